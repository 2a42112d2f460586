// `evaluate generate` and `evaluate inspect` end to end: the built binary on stories260K
// (published greedy ids and text) and on bad models (exit 2, message naming the file).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <archive.h>
#include <archive_entry.h>
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

const fs::path kStories = fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K";

class GenerateE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("assay_generate_e2e_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  RunResult run(const std::vector<std::string>& args) {
    std::string cmd =
        quote(std::string(ASSAY_BINARY_DIR) + "/eval/evaluate") + " --log-format human";
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " >" + quote((dir_ / "out").string()) + " 2>" + quote((dir_ / "err").string());
    int status = std::system(cmd.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(dir_ / "out");
    r.err = slurp(dir_ / "err");
    return r;
  }
  // A copy of stories260K without some files.
  fs::path stories_copy(const std::string& name, const std::vector<std::string>& skip = {}) {
    fs::path dst = dir_ / name;
    fs::create_directories(dst);
    for (const auto& entry : fs::directory_iterator(kStories)) {
      const std::string file = entry.path().filename().string();
      if (std::find(skip.begin(), skip.end(), file) == skip.end()) {
        fs::copy_file(entry.path(), dst / file);
        fs::permissions(dst / file, fs::perms::owner_write, fs::perm_options::add);
      }
    }
    return dst;
  }
  void expect_bad_input(const RunResult& r, const std::string& file, const std::string& what) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  }
  fs::path dir_;
};

// models/stories260K/README.md (from llama2.c doc/stories260K.md): greedy from BOS.
TEST_F(GenerateE2eTest, GreedyFromBosPrintsThePublishedIdsAndText) {
  RunResult r = run(
      {"generate", "--model", kStories.string(), "--max-new-tokens", "20", "--greedy", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = json::parse(r.out);
  EXPECT_EQ(out["ids"].get<std::vector<int>>(),
            (std::vector<int>{403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                              315, 421, 395, 317, 426, 338, 401, 396, 267, 337}));
  EXPECT_EQ(out["text"].get<std::string>().rfind(
                "Once upon a time, there was a little girl named Lily.", 0),
            0u)
      << out["text"];

  r = run({"generate", "--model", kStories.string(), "--max-new-tokens", "70", "--greedy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      r.out.rfind(
          "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
          "park. One day, she saw a big, red ball. She wanted to play with it, but it was too "
          "high.",
          0),
      0u)
      << r.out;
}

TEST_F(GenerateE2eTest, PromptIsEncodedWithBosAndContinued) {
  // "Once upon a time" is [1, 403, 407, 261, 378] with BOS, so greedy continues the published ids.
  RunResult r = run({"generate", "--model", kStories.string(), "--prompt", "Once upon a time",
                     "--max-new-tokens", "4", "--greedy", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"].get<std::vector<int>>(),
            (std::vector<int>{432, 383, 286, 261}));
}

TEST_F(GenerateE2eTest, InspectReportsArchitectureParametersAndTokenizer) {
  RunResult r = run({"inspect", kStories.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json d = json::parse(r.out);
  EXPECT_EQ(d["architecture"], "LlamaForCausalLM");
  // By hand from config.json: embeddings 512*64 = 32768 (tied); per layer q 64*64 + k 32*64 +
  // v 32*64 + o 64*64 + gate/up/down 3*172*64 + 2 norms of 64 = 45440, times 5 = 227200; final
  // norm 64. Total 260032 ("260K").
  EXPECT_EQ(d["weights"]["parameters"], 260032);
  EXPECT_EQ(d["weights"]["dtypes"]["F32"], 260032);
  EXPECT_EQ(d["kv_heads"], 4);
  EXPECT_EQ(d["tokenizer"]["bos_id"], 1);
  EXPECT_EQ(d["tokenizer"]["eos_id"], 2);
  EXPECT_NE(d["tokenizer"]["kind"].get<std::string>().find("SentencePiece"), std::string::npos);
  r = run({"inspect", kStories.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("260032"), std::string::npos) << r.out;
}

TEST_F(GenerateE2eTest, BadModelsExitTwoNamingTheFile) {
  // Unknown architecture.
  fs::path gpt2 = stories_copy("gpt2");
  json config = json::parse(slurp(gpt2 / "config.json"));
  config["architectures"] = {"GPT2LMHeadModel"};
  std::ofstream(gpt2 / "config.json") << config.dump();
  expect_bad_input(run({"generate", "--model", gpt2.string(), "--greedy"}), "config.json",
                   "GPT2LMHeadModel");

  // Missing tokenizer.
  fs::path notok = stories_copy("notok", {"tokenizer.model"});
  RunResult r = run({"generate", "--model", notok.string(), "--greedy"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("tokenizer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("notok"), std::string::npos) << r.err;

  // Truncated weights.
  fs::path cut = stories_copy("cut");
  fs::resize_file(cut / "model.safetensors", 500000);
  expect_bad_input(run({"generate", "--model", cut.string(), "--greedy"}), "model.safetensors",
                   "outside");
  expect_bad_input(run({"inspect", cut.string()}), "model.safetensors", "outside");

  // A shape that disagrees with config.json.
  fs::path shape = stories_copy("shape");
  config = json::parse(slurp(shape / "config.json"));
  config["intermediate_size"] = 128;
  std::ofstream(shape / "config.json") << config.dump();
  expect_bad_input(run({"inspect", shape.string()}), "model.safetensors", "intermediate_size");

  // A missing model.
  r = run({"generate", "--model", (dir_ / "nope").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(GenerateE2eTest, TarWithDotDotEntryExitsTwo) {
  // libarchive's writer stores the name verbatim (GNU tar would strip the "../").
  const fs::path tar = dir_ / "model.tar.gz";
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, tar.c_str()), ARCHIVE_OK);
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, "model/../../evil");
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_size(entry, 1);
  archive_write_header(a, entry);
  archive_write_data(a, "x", 1);
  archive_entry_free(entry);
  archive_write_close(a);
  archive_write_free(a);
  expect_bad_input(run({"generate", "--model", tar.string()}), "model.tar.gz", "'..'");
  expect_bad_input(run({"inspect", tar.string()}), "model.tar.gz", "'..'");
  EXPECT_FALSE(fs::exists(fs::temp_directory_path() / "evil"));
}

}  // namespace
