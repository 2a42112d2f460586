// `evaluate chat-template` and chat prompts end to end: every line of the shared chat-template
// goldens (Llama-3, Llama-3.1 and Qwen3 templates rendered by jinja2 with transformers'
// settings) renders byte-identical; refusals and bad input exit as documented; and
// `evaluate run --chat-format auto` on a model carrying the Qwen3 template writes the goldens'
// prompts with exactly one BOS in the token ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;
using testing::shell_quote;

fs::path testdata() {
  if (const char* env = std::getenv("ASSAY_TESTDATA"); env != nullptr && *env != '\0') return env;
  return fs::path(ASSAY_SOURCE_DIR) / ".." / "shared" / "testdata";
}

std::vector<ordered_json> ordered_lines(const fs::path& path) {
  std::vector<ordered_json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(ordered_json::parse(line));
  }
  return out;
}

class ChatTemplateE2eTest : public ::testing::Test {
 protected:
  testing::ProcessResult chat_template(const std::string& args) {
    return testing::run_evaluate("chat-template " + args);
  }
  fs::path write(const std::string& name, const std::string& content) {
    return dir_.write(name, content);
  }
  testing::TempDir dir_;
};

TEST_F(ChatTemplateE2eTest, SharedGoldensRenderByteIdentical) {
  const fs::path root = testdata() / "chat_templates";
  if (!fs::exists(root / "goldens")) {
    GTEST_SKIP() << "no chat-template goldens at " << root
                 << "; set ASSAY_TESTDATA to a testdata folder";
  }
  for (const char* name : {"llama3", "llama3_1", "qwen3"}) {
    std::vector<ordered_json> goldens =
        ordered_lines(root / "goldens" / (std::string(name) + ".jsonl"));
    ASSERT_FALSE(goldens.empty()) << name;
    std::string input;
    for (const auto& g : goldens) {
      input += ordered_json{{"messages", g["messages"]},
                            {"add_generation_prompt", g["add_generation_prompt"]},
                            {"kwargs", g["kwargs"]}}
                   .dump() +
               "\n";
    }
    fs::path in = write(std::string(name) + ".in.jsonl", input);
    fs::path out = dir_ / (std::string(name) + ".out.jsonl");
    auto r = chat_template("--tokenizer " + shell_quote((root / name).string()) + " --file " +
                           shell_quote(in.string()) + " --out " + shell_quote(out.string()) +
                           " --today 2026-01-15");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<ordered_json> got = ordered_lines(out);
    ASSERT_EQ(got.size(), goldens.size()) << name;
    size_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const ordered_json& g = goldens[i];
      ordered_json want = g["error"].is_null() ? ordered_json{{"text", g["text"]}}
                                               : ordered_json{{"error", g["error"]}};
      if (got[i] != want && ++mismatches <= 3) {
        ADD_FAILURE() << name << " line " << i + 1 << ": want " << want.dump() << "\n got "
                      << got[i].dump();
      }
    }
    EXPECT_EQ(mismatches, 0u) << name;
  }
}

TEST_F(ChatTemplateE2eTest, RefusalIsAnErrorLineAndExitZero) {
  fs::path tok = dir_ / "tok";
  write(
      "tok/tokenizer_config.json",
      R"({"chat_template": "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('No tools: ' ~ loop.index) }}{% endif %}{{ m.content }}{% endfor %}"})");
  fs::path in =
      write("in.jsonl",
            R"({"messages": [{"role": "user", "content": "a"}]})"
            "\n"
            R"({"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]})"
            "\n");
  auto r = chat_template("--tokenizer " + shell_quote(tok.string()) + " --file " +
                         shell_quote(in.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "{\"text\":\"a\"}\n{\"error\":\"No tools: 2\"}\n");
}

TEST_F(ChatTemplateE2eTest, BadInputAndUnsupportedConstructsExitTwoNamingWhere) {
  fs::path tok = dir_ / "tok";
  write("tok/tokenizer_config.json", R"({"chat_template": "{{ messages[0].content }}"})");
  fs::path in = write("in.jsonl", R"({"messages": []})"
                                  "\n"
                                  R"({"messages": "hi"})"
                                  "\n");
  auto r = chat_template("--tokenizer " + shell_quote(tok.string()) + " --file " +
                         shell_quote(in.string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("in.jsonl:2: field `messages` must be a list"), std::string::npos)
      << r.output;

  write("tok/tokenizer_config.json", R"({"chat_template": "line one\n{{ messages | xmlattr }}"})");
  in = write("in.jsonl", R"({"messages": []})"
                         "\n");
  r = chat_template("--tokenizer " + shell_quote(tok.string()) + " --file " +
                    shell_quote(in.string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("chat_template:2:15: unsupported filter 'xmlattr'"), std::string::npos)
      << r.output;
}

// A copy of stories260K whose tokenizer_config.json carries the Qwen3 template: the prompts in
// generations.jsonl are the goldens' renderings, and the prompt's token count is that of one BOS
// plus the text. With a template that writes the BOS text itself, the ids still hold one BOS.
TEST_F(ChatTemplateE2eTest, RunWithTheModelsQwen3TemplateWritesTheGoldenPromptsWithOneBos) {
  const fs::path root = testdata() / "chat_templates";
  if (!fs::exists(root / "qwen3")) GTEST_SKIP() << "no chat-template testdata at " << root;
  const fs::path stories = fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K";
  const fs::path model = dir_ / "model";
  fs::create_directories(model);
  for (const auto& e : fs::directory_iterator(stories))
    fs::copy_file(e.path(), model / e.path().filename());
  json config = json::parse(read_file(stories / "tokenizer_config.json"));
  const std::string qwen3 =
      json::parse(read_file(root / "qwen3" / "tokenizer_config.json"))["chat_template"];
  config["chat_template"] = qwen3;
  write("model/tokenizer_config.json", config.dump());

  std::string dataset;
  std::vector<std::string> want;
  for (const auto& g : ordered_lines(root / "goldens" / "qwen3.jsonl")) {
    const auto& m = g["messages"];
    if (m.size() != 1 || !g["add_generation_prompt"].get<bool>() || !g["kwargs"].empty() ||
        m[0]["content"].get<std::string>().empty()) {
      continue;
    }
    dataset += json{{"id", "s" + std::to_string(want.size())},
                    {"instruction", m[0]["content"]},
                    {"output", "x"}}
                   .dump() +
               "\n";
    want.push_back(g["text"]);
  }
  ASSERT_GE(want.size(), 3u);
  fs::path data = write("data.jsonl", dataset);

  auto run = [&](const fs::path& out, const std::string& extra) {
    return testing::run_evaluate(
        "run --model " + shell_quote(model.string()) + " --dataset " + shell_quote(data.string()) +
        " --output " + shell_quote(out.string()) +
        " --metrics exact_match --max-new-tokens 2 --chat-format auto" + extra);
  };
  auto token_count = [&](const std::string& text) {
    auto r = testing::run_evaluate("tokenize --tokenizer " + shell_quote(model.string()) +
                                   " --text " + shell_quote(text));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto ids = json::parse(r.output.substr(r.output.find('{')))["ids"];
    EXPECT_EQ(ids[0], 1) << "stories260K's BOS is 1";
    return ids.size();
  };

  fs::path out = dir_ / "run";
  auto r = run(out, "");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto gens = testing::read_json_lines(out / "generations.jsonl");
  ASSERT_EQ(gens.size(), want.size());
  for (const auto& g : gens) {
    size_t i = std::stoul(g["id"].get<std::string>().substr(1));
    EXPECT_EQ(g["prompt"], want[i]);
    EXPECT_EQ(g["prompt_tokens"], token_count(want[i])) << "one BOS, added by the tokenizer";
  }

  // A template that writes bos_token ("<s>") first: the text keeps it, the ids get no second BOS.
  fs::path tmpl = write("bos_first.jinja", "{{ bos_token }}" + qwen3);
  fs::path out2 = dir_ / "run2";
  r = run(out2, " --chat-template " + shell_quote(tmpl.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& g : testing::read_json_lines(out2 / "generations.jsonl")) {
    size_t i = std::stoul(g["id"].get<std::string>().substr(1));
    EXPECT_EQ(g["prompt"], "<s>" + want[i]);
    EXPECT_EQ(g["prompt_tokens"], token_count(want[i]))
        << "exactly one BOS: '<s>' is not encoded again";
  }
}

}  // namespace
}  // namespace assay
