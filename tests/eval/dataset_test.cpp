#include "eval/dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/sha256.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
namespace fs = std::filesystem;

class DatasetTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& text) { return dir_.write(name, text); }
  std::string error_of(const fs::path& p, DatasetNeeds needs = {}, DatasetFields fields = {}) {
    try {
      load_dataset(p, fields, needs);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  testing::TempDir dir_;
};

TEST_F(DatasetTest, ReadsJsonlWithIdsAndOptionalFields) {
  auto p = write("d.jsonl",
                 "{\"id\": \"q1\", \"instruction\": \"What is LoRA?\", \"output\": \"Low-Rank "
                 "Adaptation\", \"prediction\": \"LoRA\"}\n"
                 "{\"id\": 7, \"instruction\": \"2+2?\", \"input\": \"math\", \"output\": \"4\"}\n");
  auto ds = load_dataset(p, {}, {});
  ASSERT_EQ(ds.samples.size(), 2u);
  EXPECT_EQ(ds.samples[0].id, "q1");
  EXPECT_EQ(ds.samples[0].reference, "Low-Rank Adaptation");
  EXPECT_EQ(*ds.samples[0].prediction, "LoRA");
  EXPECT_EQ(ds.samples[1].id, "7");
  EXPECT_EQ(ds.samples[1].input, "math");
  EXPECT_FALSE(ds.samples[1].prediction);
  EXPECT_EQ(ds.samples[1].line, 2u);
  EXPECT_EQ(ds.sha256, sha256_file(p));
}

TEST_F(DatasetTest, ReadsAJsonArrayWithLineNumbers) {
  auto p = write("d.json",
                 "[\n  {\"instruction\": \"a\", \"output\": \"x\"},\n\n  {\"instruction\": \"b\",\n"
                 "   \"output\": \"y\"}\n]\n");
  auto ds = load_dataset(p, {}, {});
  ASSERT_EQ(ds.samples.size(), 2u);
  EXPECT_EQ(ds.samples[0].line, 2u);
  EXPECT_EQ(ds.samples[1].line, 4u);
  EXPECT_EQ(ds.samples[1].reference, "y");
  // A missing field in the array is reported at the element's line.
  auto bad = write("bad.json", "[\n{\"instruction\": \"a\", \"output\": \"x\"},\n{\"instruction\": \"b\"}\n]");
  std::string msg = error_of(bad);
  EXPECT_NE(msg.find("bad.json:3: missing field 'output'"), std::string::npos) << msg;
}

TEST_F(DatasetTest, FieldNamesAreConfigurable) {
  auto p = write("d.jsonl", "{\"key\": \"k1\", \"question\": \"q\", \"answer\": \"a\", \"model_output\": \"b\"}\n");
  DatasetFields f;
  f.id = "key";
  f.instruction = "question";
  f.reference = "answer";
  f.prediction = "model_output";
  DatasetNeeds needs;
  needs.prediction = true;
  auto ds = load_dataset(p, f, needs);
  EXPECT_EQ(ds.samples[0].id, "k1");
  EXPECT_EQ(ds.samples[0].instruction, "q");
  EXPECT_EQ(ds.samples[0].reference, "a");
  EXPECT_EQ(*ds.samples[0].prediction, "b");
}

TEST_F(DatasetTest, HashIdsAreStableAndIgnoreThePrediction) {
  auto a = write("a.jsonl", "{\"instruction\": \"q\", \"output\": \"r\", \"prediction\": \"one\"}\n");
  auto b = write("b.jsonl", "{\"instruction\": \"q\", \"output\": \"r\", \"prediction\": \"two\"}\n");
  auto ia = load_dataset(a, {}, {}).samples[0].id;
  auto ib = load_dataset(b, {}, {}).samples[0].id;
  EXPECT_EQ(ia, ib);
  EXPECT_EQ(ia, "h" + sha256_hex(std::string("q\x1f\x1fr")).substr(0, 16));
}

TEST_F(DatasetTest, IdenticalSamplesWithoutIdsGetDistinctIds) {
  auto p = write("d.jsonl", "{\"instruction\": \"q\", \"output\": \"r\"}\n{\"instruction\": \"q\", \"output\": \"r\"}\n");
  auto ds = load_dataset(p, {}, {});
  EXPECT_NE(ds.samples[0].id, ds.samples[1].id);
  EXPECT_EQ(ds.samples[1].id, ds.samples[0].id + "-2");
}

TEST_F(DatasetTest, BadInputIsNamedByFileLineAndField) {
  EXPECT_NE(error_of(write("m.jsonl", "{\"instruction\": \"q\", \"output\": \"r\"}\n{\"instruction\": \"q\"}\n"))
                .find("m.jsonl:2: missing field 'output'"),
            std::string::npos);
  EXPECT_NE(error_of(write("t.jsonl", "{\"instruction\": \"q\", \"output\": 42}\n"))
                .find("t.jsonl:1: field 'output' must be a string, got number"),
            std::string::npos);
  EXPECT_NE(error_of(write("j.jsonl", "{\"output\": \"r\"}\n{\"output\": \n{\"output\": \"s\"}\n"))
                .find("j.jsonl:2: bad JSON"),
            std::string::npos);
  // A file that starts with '[' is a JSON array; its elements must be objects.
  EXPECT_NE(error_of(write("a.json", "[1, 2]\n")).find("a.json:1: each sample must be a JSON object, got number"),
            std::string::npos);
  EXPECT_NE(error_of(write("n.jsonl", "\"just a string\"\n")).find("n.jsonl:1: each sample must be a JSON object"),
            std::string::npos);
  EXPECT_NE(error_of(write("dup.jsonl", "{\"id\": \"x\", \"output\": \"r\"}\n{\"id\": \"x\", \"output\": \"s\"}\n"))
                .find("dup.jsonl:2: duplicate id 'x' (first at line 1)"),
            std::string::npos);
  EXPECT_NE(error_of(write("e.jsonl", "")).find("holds no samples"), std::string::npos);
  EXPECT_NE(error_of(write("tail.jsonl", "{\"output\": \"r\"}\n{\"output\": \"s")).find("tail.jsonl:2: last line is incomplete"),
            std::string::npos);
  DatasetNeeds needs;
  needs.prediction = true;
  EXPECT_NE(error_of(write("p.jsonl", "{\"output\": \"r\"}\n"), needs).find("p.jsonl:1: missing field 'prediction'"),
            std::string::npos);
  try {
    load_dataset(dir_ / "absent.jsonl", {}, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

}  // namespace
}  // namespace assay::eval
