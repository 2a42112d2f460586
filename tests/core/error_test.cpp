#include "core/error.h"

#include <gtest/gtest.h>

namespace assay {
namespace {

TEST(ErrorTest, KindsMapToDocumentedExitCodes) {
  EXPECT_EQ(Error(ErrorKind::kInvalidInput, "x").exit_code(), 2);
  EXPECT_EQ(Error(ErrorKind::kNotFound, "x").exit_code(), 2);
  EXPECT_EQ(Error(ErrorKind::kIo, "x").exit_code(), 4);
  EXPECT_EQ(Error(ErrorKind::kRemote, "x").exit_code(), 4);
  EXPECT_EQ(Error(ErrorKind::kInternal, "x").exit_code(), 4);
}

TEST(ErrorTest, ThrowersCarryKindAndMessage) {
  try {
    throw_invalid("data.jsonl:3: missing field 'output'");
    FAIL() << "did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_STREQ(e.what(), "data.jsonl:3: missing field 'output'");
  }
  EXPECT_THROW(throw_not_found("x"), Error);
}

TEST(ErrorTest, CheckThrowsInternalNamingTheCondition) {
  try {
    ASSAY_CHECK(1 + 1 == 3);
    FAIL() << "did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("1 + 1 == 3"), std::string::npos);
  }
}

}  // namespace
}  // namespace assay
