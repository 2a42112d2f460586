// `evaluate tokenize` end to end: runs the built binary on golden lines and on bad input.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class TokenizeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("assay_tokenize_e2e_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  RunResult run(const std::vector<std::string>& args) {
    std::string cmd = quote(std::string(ASSAY_BINARY_DIR) + "/eval/evaluate") + " tokenize";
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " >" + quote((dir_ / "out").string()) + " 2>" + quote((dir_ / "err").string());
    int status = std::system(cmd.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(dir_ / "out");
    r.err = slurp(dir_ / "err");
    return r;
  }
  fs::path write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
    return dir_ / name;
  }
  static fs::path testdata() {
    if (const char* env = std::getenv("ASSAY_TESTDATA"); env != nullptr && *env != '\0') return env;
    return fs::path(ASSAY_SOURCE_DIR) / ".." / "shared" / "testdata";
  }
  static fs::path stories() { return fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K"; }

  fs::path dir_;
};

std::vector<json> lines_of(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

}  // namespace

// models/stories260K/README.md: "Once upon a time" encodes to [403, 407, 261, 378]; BOS is 1.
TEST_F(TokenizeE2eTest, Stories260KPublishedExample) {
  RunResult r = run({"--tokenizer", stories().string(), "--text", "Once upon a time"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\":[1,403,407,261,378]}\n");
  r = run({"--tokenizer", stories().string(), "--text", "Once upon a time", "--no-special",
           "--decode"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\":[403,407,261,378],\"text\":\"Once upon a time\"}\n");
}

// Golden lines of mistral.jsonl through --file: ids with and without specials, decoded text.
TEST_F(TokenizeE2eTest, FileOfGoldenLinesMatchesReference) {
  fs::path goldens = testdata() / "tokenizers" / "goldens" / "mistral.jsonl";
  fs::path tokenizer = testdata() / "tokenizers" / "mistral";
  if (!fs::exists(goldens)) GTEST_SKIP() << "no tokenizer goldens at " << goldens;
  std::vector<json> golden = lines_of(slurp(goldens));
  golden.resize(40);
  std::string input;
  for (const auto& g : golden) input += json{{"text", g["text"]}}.dump() + "\n";
  fs::path file = write("in.jsonl", input);

  RunResult r = run({"--tokenizer", tokenizer.string(), "--file", file.string(), "--decode"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> got = lines_of(r.out);
  ASSERT_EQ(got.size(), golden.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["ids"], golden[i]["ids_with_special"]) << golden[i]["text"];
    EXPECT_EQ(got[i]["text"], golden[i]["decoded"]) << golden[i]["text"];
  }
  r = run({"--tokenizer", tokenizer.string(), "--file", file.string(), "--no-special"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  got = lines_of(r.out);
  ASSERT_EQ(got.size(), golden.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["ids"], golden[i]["ids"]) << golden[i]["text"];
    EXPECT_FALSE(got[i].contains("text"));
  }
}

TEST_F(TokenizeE2eTest, BadInputExitsTwoNamingTheProblem) {
  fs::path bad = write("bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  RunResult r = run({"--tokenizer", stories().string(), "--file", bad.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.jsonl:2"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");

  fs::path corrupt = write("corrupt.jsonl", "{\"text\": \"ok\"}\n{not json\n{\"text\": \"x\"}\n");
  r = run({"--tokenizer", stories().string(), "--file", corrupt.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("corrupt.jsonl:2"), std::string::npos) << r.err;

  r = run({"--tokenizer", (dir_ / "no_such_model").string(), "--text", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no_such_model"), std::string::npos) << r.err;

  fs::path model_dir = dir_ / "broken_model";
  fs::create_directories(model_dir);
  std::ofstream(model_dir / "tokenizer.json")
      << "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}";
  r = run({"--tokenizer", model_dir.string(), "--text", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Unigram"), std::string::npos) << r.err;

  r = run({"--tokenizer", stories().string()});
  EXPECT_EQ(r.exit_code, 2) << "neither --text nor --file";
}
