// Prompting: the Handbook's Alpaca template byte for byte, user templates and their errors, the
// built-in chat formats and their detection from tokenizer_config.json. Expected strings are
// written by hand from the Handbook's evaluate.py (L27), the Alpaca repository's "with input"
// prompt, and the chat templates of Qwen (chatml), Llama-3-Instruct, Llama-2-chat and Mistral.
#include "eval/prompt.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {

TEST(PromptTest, DefaultIsTheHandbookAlpacaTemplate) {
  PromptBuilder b;
  EXPECT_EQ(b.build("What is LoRA?", ""),
            "Below is an instruction that describes a task. Write a response that appropriately "
            "completes the request.\n\n### Instruction:\nWhat is LoRA?\n\n### Response:\n");
  EXPECT_EQ(b.description(), "alpaca");
}

TEST(PromptTest, AlpacaWithInputVariant) {
  PromptBuilder b;
  EXPECT_EQ(b.build("Summarise.", "Some text."),
            "Below is an instruction that describes a task, paired with an input that provides "
            "further context. Write a response that appropriately completes the request.\n\n"
            "### Instruction:\nSummarise.\n\n### Input:\nSome text.\n\n### Response:\n");
}

TEST(PromptTest, UserTemplateSubstitutesAndUnescapesBraces) {
  auto b =
      PromptBuilder::from_template("Q: {instruction} {{json}} [{input}]\nA:", "prompt.template");
  EXPECT_EQ(b.build("2+2?", "x"), "Q: 2+2? {json} [x]\nA:");
  // Values are inserted verbatim, never re-parsed as placeholders.
  EXPECT_EQ(b.build("{input}", ""), "Q: {input} {json} []\nA:");
}

TEST(PromptTest, UnknownPlaceholderIsAnErrorNamingTheKey) {
  try {
    PromptBuilder::from_template("Q: {question}", "prompt.template (from run.json)");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    std::string m = e.what();
    EXPECT_NE(m.find("prompt.template (from run.json)"), std::string::npos) << m;
    EXPECT_NE(m.find("{question}"), std::string::npos) << m;
  }
  EXPECT_THROW(PromptBuilder::from_template("Q: {instruction", "k"), Error);
  EXPECT_THROW(PromptBuilder::from_template("Q: }", "k"), Error);
}

TEST(PromptTest, ChatFormats) {
  EXPECT_EQ(PromptBuilder::from_chat_format(ChatFormat::kChatml).build("Hi", ""),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(PromptBuilder::from_chat_format(ChatFormat::kLlama3).build("Hi", ""),
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(PromptBuilder::from_chat_format(ChatFormat::kLlama2).build("Hi", "ctx"),
            "[INST] Hi\n\nctx [/INST]");
  EXPECT_EQ(PromptBuilder::from_chat_format(ChatFormat::kMistral).build("Hi", ""),
            "[INST] Hi [/INST]");
  EXPECT_EQ(PromptBuilder::from_chat_format(ChatFormat::kNone).description(), "alpaca");
  EXPECT_EQ(parse_chat_format("llama3"), ChatFormat::kLlama3);
  EXPECT_FALSE(parse_chat_format("llama4").has_value());
}

TEST(PromptTest, DetectsChatFormatFromTemplateText) {
  // Abridged from the real templates.
  EXPECT_EQ(detect_chat_format("{% for message in messages %}{{'<|im_start|>' + message['role']"),
            ChatFormat::kChatml);
  EXPECT_EQ(detect_chat_format("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>"),
            ChatFormat::kLlama3);
  EXPECT_EQ(detect_chat_format("{% set content = '<<SYS>>\\n' + system %}{{ '[INST] ' + content"),
            ChatFormat::kLlama2);
  EXPECT_EQ(detect_chat_format("{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m['content']"),
            ChatFormat::kMistral);
  EXPECT_EQ(detect_chat_format("{{ messages[0]['content'] }}"), ChatFormat::kNone);
}

TEST(PromptTest, DetectsChatFormatInTokenizerConfig) {
  testing::TempDir dir;
  EXPECT_EQ(detect_chat_format_in(dir.path()), ChatFormat::kNone) << "no file: none";
  dir.write("tokenizer_config.json", R"({"chat_template": "<|im_start|>{{ m }}"})");
  EXPECT_EQ(detect_chat_format_in(dir.path()), ChatFormat::kChatml);
  dir.write("tokenizer_config.json",
            R"({"chat_template": [{"name": "tool_use", "template": "<|im_start|>"},)"
            R"( {"name": "default", "template": "[INST] x"}]})");
  EXPECT_EQ(detect_chat_format_in(dir.path()), ChatFormat::kMistral) << "the 'default' entry wins";
  dir.write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_EQ(detect_chat_format_in(dir.path()), ChatFormat::kNone);
  dir.write("tokenizer_config.json", "{not json");
  EXPECT_THROW(detect_chat_format_in(dir.path()), Error);
}

}  // namespace
}  // namespace assay::eval
