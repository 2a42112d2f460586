// Prompting: the Handbook's Alpaca template byte for byte, user templates and their errors, the
// bundled chat formats, and chat prompts from a model's own Jinja template. Expected strings are
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

TEST(PromptTest, BundledFormatsWithSystemAndFewShot) {
  ChatExtras extras;
  extras.system = "Be brief.";
  extras.fewshot = {{"s1", "2+2?", "4"}, {"s2", "3+3?", "6"}};
  extras.fewshot_count = 1;
  EXPECT_EQ(PromptBuilder::from_chat_format(ChatFormat::kChatml, extras).build("1+1?", "", "s9"),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n"
            "<|im_start|>assistant\n");
  // The sample s1 never sees itself as an example: the next candidate takes its place.
  EXPECT_EQ(PromptBuilder::from_chat_format(ChatFormat::kLlama3, extras).build("2+2?", "", "s1"),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n3+3?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n6<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  extras.fewshot.clear();
  // Llama-2-chat puts the system prompt in <<SYS>> inside the first [INST]; Mistral prepends it.
  EXPECT_EQ(PromptBuilder::from_chat_format(ChatFormat::kLlama2, extras).build("Hi", ""),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]");
  EXPECT_EQ(PromptBuilder::from_chat_format(ChatFormat::kMistral, extras).build("Hi", ""),
            "[INST] Be brief.\n\nHi [/INST]");
}

TEST(PromptTest, RunsTheModelsOwnTemplate) {
  testing::TempDir dir;
  dir.write(
      "tokenizer_config.json",
      R"({"bos_token": {"content": "<B>", "lstrip": false}, "eos_token": "<E>", "unk_token": null,)"
      R"( "chat_template": "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }})"
      R"({% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}{{ unk_token is defined }}"})");
  GenerationSettings gen;  // chat_format "auto"
  PromptBuilder p = chat_prompts_for(gen, {}, dir.path());
  // A {"content": ...} token gives its text; a null token is left undefined, as transformers does.
  EXPECT_EQ(p.build("Hi", "ctx"), "<B><user>Hi\n\nctx<E><assistant>False");
  EXPECT_NE(p.description().find("tokenizer_config.json"), std::string::npos);
  // No template: Alpaca.
  dir.write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_EQ(chat_prompts_for(gen, {}, dir.path()).description(), "alpaca");
  EXPECT_EQ(chat_prompts_for(gen, {}, std::nullopt).description(), "alpaca");
}

TEST(PromptTest, NamedTemplatesUseDefaultUnlessNamed) {
  testing::TempDir dir;
  dir.write("tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"},)"
                                     R"( {"name": "default", "template": "D"}]})");
  GenerationSettings gen;
  EXPECT_EQ(chat_prompts_for(gen, {}, dir.path()).build("x", ""), "D");
  gen.chat_template_name = "tool_use";
  EXPECT_EQ(chat_prompts_for(gen, {}, dir.path()).build("x", ""), "T");
  gen.chat_template_name = "rag";
  try {
    chat_prompts_for(gen, {}, dir.path());
    FAIL() << "an unknown name must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("tool_use, default"), std::string::npos) << e.what();
  }
}

TEST(PromptTest, TemplateOutsideTheSubsetFailsAtLoadWithLineAndColumn) {
  testing::TempDir dir;
  dir.write("tokenizer_config.json", R"({"chat_template": "{{ x }}\n  {% include 'other.j2' %}"})");
  try {
    chat_prompts_for(GenerationSettings{}, {}, dir.path());
    FAIL() << "include is outside the supported subset";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find(
                  "tokenizer_config.json: chat_template:2:6: unsupported tag 'include'"),
              std::string::npos)
        << e.what();
  }
}

TEST(PromptTest, RefusalCarriesTheTemplatesMessage) {
  testing::TempDir dir;
  dir.write(
      "tokenizer_config.json",
      R"({"chat_template": "{% if messages[0].role != 'system' %}{{ raise_exception('System first!') }}{% endif %}"})");
  PromptBuilder p = chat_prompts_for(GenerationSettings{}, {}, dir.path());
  try {
    p.build("Hi", "");
    FAIL() << "the template refuses a conversation without a system message";
  } catch (const inference::ChatTemplateError& e) {
    EXPECT_TRUE(e.raised_by_template());
    EXPECT_EQ(std::string(e.what()), "System first!");
  }
  ChatExtras extras;
  extras.system = "S";
  EXPECT_EQ(PromptBuilder::from_chat_template(inference::read_chat_config(dir.path()), extras, "x")
                .build("Hi", ""),
            "");
}

TEST(PromptTest, FewShotFromTheDatasetIsASeededDrawThatSkipsTheSample) {
  testing::TempDir dir;
  std::string lines;
  for (int i = 0; i < 6; ++i) {
    lines += R"({"id": "q)" + std::to_string(i) + R"(", "instruction": "Q)" + std::to_string(i) +
             R"(", "output": "A)" + std::to_string(i) + "\"}\n";
  }
  auto data = dir.write("data.jsonl", lines);
  GenerationSettings gen;
  gen.fewshot_n = 2;
  gen.fewshot_seed = 7;
  ChatExtras a = chat_extras_from(gen, data.string(), DatasetFields{});
  ChatExtras b = chat_extras_from(gen, data.string(), DatasetFields{});
  ASSERT_EQ(a.fewshot.size(), 3u) << "two examples and a spare";
  EXPECT_EQ(a.fewshot_count, 2u);
  for (size_t i = 0; i < a.fewshot.size(); ++i) {
    EXPECT_EQ(a.fewshot[i].id, b.fewshot[i].id) << "the same seed draws the same examples";
    EXPECT_EQ("A" + a.fewshot[i].id.substr(1), a.fewshot[i].assistant);
    EXPECT_EQ("Q" + a.fewshot[i].id.substr(1), a.fewshot[i].user);
  }
  PromptBuilder p = PromptBuilder::from_chat_format(ChatFormat::kChatml, a);
  auto own = p.messages("x", "", a.fewshot[0].id);
  ASSERT_EQ(own.size(), 5u);
  EXPECT_EQ(own[0]["content"], a.fewshot[1].user);
  EXPECT_EQ(own[2]["content"], a.fewshot[2].user);
  gen.fewshot_n = 6;
  EXPECT_THROW(chat_extras_from(gen, data.string(), DatasetFields{}), Error)
      << "6 examples need 7 samples";
}

TEST(PromptTest, FewShotFileRecordsAllBecomeTurnsInOrder) {
  testing::TempDir dir;
  auto shots =
      dir.write("shots.jsonl", R"({"instruction": "Capital of France?", "output": "Paris"})"
                               "\n"
                               R"({"instruction": "Add", "input": "2 3", "output": "5"})"
                               "\n");
  GenerationSettings gen;
  gen.fewshot_file = shots.string();
  gen.system = "S";
  ChatExtras extras = chat_extras_from(gen, "unused.jsonl", DatasetFields{});
  EXPECT_EQ(
      PromptBuilder::from_chat_format(ChatFormat::kChatml, extras).build("Q", ""),
      "<|im_start|>system\nS<|im_end|>\n"
      "<|im_start|>user\nCapital of France?<|im_end|>\n<|im_start|>assistant\nParis<|im_end|>\n"
      "<|im_start|>user\nAdd\n\n2 3<|im_end|>\n<|im_start|>assistant\n5<|im_end|>\n"
      "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n");
  gen.fewshot_file = (dir / "missing.jsonl").string();
  EXPECT_THROW(chat_extras_from(gen, "unused.jsonl", DatasetFields{}), Error);
}

}  // namespace
}  // namespace assay::eval
