// The chat-template interpreter. constructs.jsonl holds one case per construct of the supported
// subset (statements, whitespace control, expressions, tests, filters, str/dict methods,
// globals, undefined), each expectation worked out by hand from the Jinja documentation and
// Python's semantics (check_constructs.py confirms them against jinja2). goldens.jsonl holds
// templates written in the style of Gemma, Mistral, Phi-3, DeepSeek, ChatML with tools and
// Llama 3.1 with tools, rendered by jinja2 with transformers' settings (make_goldens.py).
#include "inference/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "inference/tokenizer.h"
#include "tests/support/temp_dir.h"

namespace assay::inference {
namespace {
namespace fs = std::filesystem;
using nlohmann::ordered_json;

const fs::path kData = fs::path(ASSAY_SOURCE_DIR) / "tests" / "data" / "chat_templates";

std::vector<ordered_json> read_lines(const fs::path& path) {
  std::vector<ordered_json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(ordered_json::parse(line));
  }
  return out;
}

std::string render(const std::string& tmpl, const ordered_json& ctx = ordered_json::object()) {
  return ChatTemplate::parse(tmpl, "t", {"2026-01-15"}).render(ctx);
}

// The message of the assay::Error that parsing `tmpl` throws ("" if none).
std::string load_error(const std::string& tmpl) {
  try {
    ChatTemplate::parse(tmpl, "t.jinja");
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  return "";
}

TEST(ChatTemplateTest, EveryConstructAsTheJinjaDocsSay) {
  std::vector<ordered_json> cases = read_lines(kData / "constructs.jsonl");
  ASSERT_GE(cases.size(), 60u);
  for (const auto& c : cases) {
    const std::string tmpl = c["template"];
    if (c.value("fails", false)) {
      EXPECT_THROW(render(tmpl, c["context"]), ChatTemplateError) << tmpl;
      continue;
    }
    try {
      EXPECT_EQ(render(tmpl, c["context"]), c["text"].get<std::string>()) << tmpl;
    } catch (const std::exception& e) {
      ADD_FAILURE() << tmpl << ": " << e.what();
    }
  }
}

TEST(ChatTemplateTest, TemplatesInTheStyleOfOtherModelsMatchJinja2) {
  std::vector<ordered_json> goldens = read_lines(kData / "goldens.jsonl");
  ASSERT_GE(goldens.size(), 50u);
  ChatConfig config;
  config.special_tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"pad_token", "<pad>"}};
  for (const auto& g : goldens) {
    const std::string name = g["template"];
    auto tmpl = ChatTemplate::parse(read_file(kData / "templates" / (name + ".jinja")), name,
                                    {"2026-01-15"});
    ordered_json kwargs = g["kwargs"];
    if (!g["tools"].is_null()) kwargs["tools"] = g["tools"];
    const std::string where = name + " " + g["messages"].dump().substr(0, 80);
    try {
      std::string text =
          tmpl.render(chat_context(config, g["messages"], g["add_generation_prompt"], kwargs));
      EXPECT_TRUE(g["error"].is_null() && !g["failed"].get<bool>())
          << where << " rendered: " << text;
      if (g["text"].is_string()) {
        EXPECT_EQ(text, g["text"].get<std::string>()) << where;
      }
    } catch (const ChatTemplateError& e) {
      if (g["error"].is_string()) {
        EXPECT_TRUE(e.raised_by_template()) << where;
        EXPECT_EQ(std::string(e.what()), g["error"].get<std::string>()) << where;
      } else {
        EXPECT_TRUE(g["failed"].get<bool>()) << where << ": " << e.what();
        EXPECT_FALSE(e.raised_by_template()) << where;
      }
    }
  }
}

TEST(ChatTemplateTest, RaiseExceptionCarriesTheTemplatesMessage) {
  try {
    render("a{{ raise_exception('Roles must alternate ' ~ 2) }}");
    FAIL();
  } catch (const ChatTemplateError& e) {
    EXPECT_TRUE(e.raised_by_template());
    EXPECT_EQ(std::string(e.what()), "Roles must alternate 2");
  }
}

TEST(ChatTemplateTest, AFailureOfTheTemplatesOwnNamesItsLineAndColumn) {
  try {
    render("a\n{% for m in messages %}{{ m.x.y }}{% endfor %}",
           {{"messages", {ordered_json::object()}}});
    FAIL();
  } catch (const ChatTemplateError& e) {
    EXPECT_FALSE(e.raised_by_template());
    EXPECT_EQ(std::string(e.what()), "line 2, column 24: 'x' is undefined");
  }
}

TEST(ChatTemplateTest, ConstructsOutsideTheSubsetAreRefusedAtLoadWithLineAndColumn) {
  EXPECT_EQ(load_error("{% include 'x.j2' %}"),
            "t.jinja:1:4: unsupported tag 'include' (found 'include')");
  EXPECT_NE(load_error("a\n{% extends 'base' %}").find("t.jinja:2:4: unsupported tag 'extends'"),
            std::string::npos);
  EXPECT_NE(load_error("{% import 'm' as m %}").find("unsupported tag 'import'"),
            std::string::npos);
  EXPECT_NE(
      load_error("x\n\n  {{ m | xmlattr }}").find("t.jinja:3:10: unsupported filter 'xmlattr'"),
      std::string::npos);
  EXPECT_NE(load_error("{{ m is escapedd }}").find("unsupported test 'escapedd'"),
            std::string::npos);
  EXPECT_NE(load_error("{% for x in y recursive %}{% endfor %}").find("recursive"),
            std::string::npos);
  EXPECT_NE(load_error("{% if x %}a").find("missing {% endif %}"), std::string::npos);
  EXPECT_NE(load_error("{% for x in y %}a{% endif %}").find("t.jinja:1:21"), std::string::npos);
  EXPECT_NE(load_error("{{ 'abc }}").find("unterminated string"), std::string::npos);
  EXPECT_NE(load_error("{{ a ").find("unterminated tag"), std::string::npos);
  EXPECT_NE(load_error("{% break %}").find("outside a loop"), std::string::npos);
  EXPECT_NE(load_error("{{ 99999999999999999999 }}").find("out of range"), std::string::npos);
}

TEST(ChatTemplateTest, HostileTemplatesHitLimitsNotTheStack) {
  // Nesting deeper than the parser allows.
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += "{% if true %}";
  EXPECT_NE(load_error(deep).find("nested too deeply"), std::string::npos);
  EXPECT_NE(load_error("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}")
                .find("nested too deeply"),
            std::string::npos);
  // Unbounded recursion, output, ranges and loops end as errors.
  for (const char* tmpl :
       {"{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", "{{ 'x' * 100000000 }}",
        "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "{{ range(1000000) | length }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set ns = namespace(a=1) %}{% set ns.a = ns %}", "{{ 9223372036854775807 + 1 }}",
        "{{ ('a' * 1000000) | replace('', 'x' * 1000) }}", "{{ ('a\n' * 1000000) | indent(100) }}",
        "{{ (['x' * 1000000] * 70) | tojson(indent=2) }}"}) {
    try {
      render(tmpl);
      ADD_FAILURE() << tmpl << " rendered";
    } catch (const ChatTemplateError& e) {
      EXPECT_FALSE(e.raised_by_template()) << tmpl;
      const std::string what = e.what();
      EXPECT_TRUE(
          what.find("limit") != std::string::npos || what.find("too deeply") != std::string::npos ||
          what.find("too big") != std::string::npos || what.find("overflow") != std::string::npos ||
          what.find("namespace") != std::string::npos)
          << tmpl << ": " << what;
    }
  }
}

TEST(ChatTemplateTest, ConfigGivesTokenTextsAndPicksTheNamedTemplate) {
  testing::TempDir dir;
  dir.write(
      "tokenizer_config.json",
      R"({"bos_token": {"__type": "AddedToken", "content": "<|begin|>"}, "eos_token": "<|end|>",)"
      R"( "unk_token": null, "add_bos_token": true, "chat_template": [{"name": "default", "template": "D{{ bos_token }}"},)"
      R"( {"name": "rag", "template": "R{{ documents | length }}"}]})");
  ChatConfig config = read_chat_config(dir.path());
  EXPECT_EQ(config.special_tokens,
            (ordered_json{{"bos_token", "<|begin|>"}, {"eos_token", "<|end|>"}}));
  EXPECT_EQ(ChatTemplate::parse(config.chat_template, config.origin)
                .render(chat_context(config, ordered_json::array(), true)),
            "D<|begin|>");
  config = read_chat_config(dir.path(), "rag");
  EXPECT_EQ(ChatTemplate::parse(config.chat_template, config.origin)
                .render(chat_context(config, ordered_json::array(), true, {{"documents", {1, 2}}})),
            "R2");
  EXPECT_THROW(read_chat_config(dir.path(), "tools"), Error);
  EXPECT_THROW(read_chat_config(dir.path() / "missing"), Error);
}

// stories260K's tokenizer.model: BOS is 1 (models/stories260K/README.md). SentencePiece encodes
// the text "<s>" as characters, so a template that writes it would add a second BOS's worth of
// tokens unless the prompt encoder drops it.
TEST(ChatTemplateTest, APromptStartingWithTheBosTextGetsExactlyOneBos) {
  auto tokenizer = Tokenizer::load(fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K");
  std::vector<int32_t> plain = tokenizer->encode("Once upon a time", true);
  std::vector<int32_t> ids = encode_prompt(*tokenizer, "<s>Once upon a time");
  EXPECT_EQ(ids, plain);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 1);
  EXPECT_EQ(encode_prompt(*tokenizer, "Once upon a time"), plain) << "no BOS text: as before";
}

}  // namespace
}  // namespace assay::inference
