#include "core/jsonl.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace assay {
namespace {

std::string error_of(std::string_view text, TornTail policy) {
  try {
    parse_jsonl(text, "data.jsonl", policy);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    return e.what();
  }
  return "";
}

TEST(JsonlTest, EmptyFileHasNoRecords) {
  auto c = parse_jsonl("", "f", TornTail::kError);
  EXPECT_TRUE(c.records.empty());
  EXPECT_FALSE(c.torn_tail_line);
  EXPECT_EQ(c.valid_bytes, 0u);
}

TEST(JsonlTest, AcceptsCrlfBlankLinesBomAndMissingFinalNewline) {
  std::string text = "\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \n{\"a\":2}\r\n{\"a\":3}";
  auto c = parse_jsonl(text, "f", TornTail::kError);
  ASSERT_EQ(c.records.size(), 3u);
  EXPECT_EQ(c.records[0].value["a"], 1);
  EXPECT_EQ(c.records[0].line, 1u);
  EXPECT_EQ(c.records[1].line, 4u);
  EXPECT_EQ(c.records[2].line, 5u);
  EXPECT_EQ(c.records[2].value["a"], 3);
  EXPECT_EQ(c.valid_bytes, text.size());
}

TEST(JsonlTest, CorruptMiddleLineIsAnErrorNamingFileAndLine) {
  std::string msg = error_of("{\"a\":1}\n{\"a\":\n{\"a\":3}\n", TornTail::kDrop);
  EXPECT_NE(msg.find("data.jsonl:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad JSON"), std::string::npos) << msg;
}

TEST(JsonlTest, CorruptLastLineWithNewlineIsCorruptNotTorn) {
  // A complete line (it ends in '\n') that is not JSON was written wrong, not cut off.
  std::string msg = error_of("{\"a\":1}\n{oops}\n", TornTail::kDrop);
  EXPECT_NE(msg.find("data.jsonl:2: bad JSON"), std::string::npos) << msg;
}

TEST(JsonlTest, TornTailIsDroppedForResumableFiles) {
  std::string text = "{\"a\":1}\n{\"a\":2}\n{\"a\":3, \"b\": \"unfini";
  auto c = parse_jsonl(text, "f", TornTail::kDrop);
  ASSERT_EQ(c.records.size(), 2u);
  ASSERT_TRUE(c.torn_tail_line);
  EXPECT_EQ(*c.torn_tail_line, 3u);
  EXPECT_EQ(c.valid_bytes, 16u);  // truncating here leaves the two complete lines
}

TEST(JsonlTest, TornTailIsAnErrorForInputs) {
  std::string msg = error_of("{\"a\":1}\n{\"a\":2", TornTail::kError);
  EXPECT_NE(msg.find("data.jsonl:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("incomplete"), std::string::npos) << msg;
}

TEST(JsonlTest, InvalidUtf8InAStringIsABadLine) {
  std::string msg = error_of("{\"a\":\"\xff\"}\n", TornTail::kError);
  EXPECT_NE(msg.find("data.jsonl:1:"), std::string::npos) << msg;
}

TEST(JsonlTest, WriterKeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(to_jsonl_line({{"t", "caf\xc3\xa9"}}), "{\"t\":\"caf\xc3\xa9\"}");
  EXPECT_EQ(to_jsonl_line({{"t", std::string("a\xff")}}), "{\"t\":\"a\xef\xbf\xbd\"}");
}

}  // namespace
}  // namespace assay

namespace assay {
namespace {
// Found by fuzzing: nlohmann throws out_of_range (not parse_error) for a number that overflows.
TEST(JsonlTest, NumberOutOfRangeIsABadLineNotACrash) {
  std::string msg = error_of("{\"a\": 1}\n{\"a\": 9e440}\n", TornTail::kDrop);
  EXPECT_NE(msg.find("data.jsonl:2: bad JSON"), std::string::npos) << msg;
}
}  // namespace
}  // namespace assay
