// Prompting for `evaluate run`: turns a sample's instruction (and optional input) into the prompt
// text the model continues. Owns the default Alpaca template (the LLM-Engineers-Handbook's),
// user templates with {instruction}/{input} placeholders, and chat prompts: the model's own Jinja
// chat template (inference/chat_template.h), a user's template file, or one of the bundled
// formats (chatml, llama3, llama2, mistral, themselves Jinja templates), with an optional system
// message and few-shot turns.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eval/dataset.h"
#include "eval/run_settings.h"
#include "inference/chat_template.h"

namespace assay::eval {

// The bundled chat formats. Their text holds no BOS token: the tokenizer adds it (encode with
// special tokens), as Hugging Face does for a plain-text prompt.
enum class ChatFormat {
  kNone,    // no chat wrapping: the (Alpaca or user) template
  kChatml,  // "<|im_start|>user\n{msg}<|im_end|>\n<|im_start|>assistant\n"
  kLlama3,  // "<|start_header_id|>user<|end_header_id|>\n\n{msg}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
  kLlama2,  // "[INST] {msg} [/INST]"; a system message goes in <<SYS>> inside the first turn
  kMistral,  // "[INST] {msg} [/INST]"; a system message is prepended to the first user message
};

// "none", "chatml", "llama3", "llama2", "mistral".
std::string_view chat_format_name(ChatFormat format);
// Parses a chat format name (not "auto"); nullopt for an unknown name.
std::optional<ChatFormat> parse_chat_format(std::string_view name);
// The Jinja source of a bundled format (empty for kNone).
std::string_view bundled_chat_template(ChatFormat format);

// The Handbook's Alpaca template (used when the sample has no input).
extern const char* const kAlpacaTemplate;
// The standard Alpaca "with input" variant (used when the sample's input is non-empty).
extern const char* const kAlpacaInputTemplate;

// One turn of a conversation.
struct ChatTurn {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// A few-shot example: the user turn and the assistant's answer; `id` lets a sample skip itself.
struct FewShot {
  std::string id;
  std::string user;
  std::string assistant;
};

// What a chat prompt holds besides the sample's own turn.
struct ChatExtras {
  std::string system;            // "" = no system message
  std::vector<FewShot> fewshot;  // candidates, in order
  size_t fewshot_count = 0;  // turns used per sample: the first candidates that are not the sample
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();  // extra template variables
};

// Builds prompts. Templates use Python str.format-like placeholders: {instruction}, {input};
// "{{" and "}}" are literal braces. Copies share the parsed chat template.
class PromptBuilder {
 public:
  // The default: Alpaca (with the "with input" variant for samples that have an input).
  PromptBuilder();
  // A user template. `key` names its origin in messages ("prompt.template (from run.json)").
  // Throws assay::Error (invalid input) naming `key` for an unknown placeholder, an unclosed
  // "{" or a stray "}".
  static PromptBuilder from_template(const std::string& tmpl, const std::string& key);
  // A bundled chat format (kNone gives the default Alpaca builder).
  static PromptBuilder from_chat_format(ChatFormat format, ChatExtras extras = {});
  // A Jinja chat template with the special tokens (and the rest) of `config`. `description`
  // is what the manifest records. Throws assay::Error (invalid input) naming the template's
  // origin, line and column for a construct outside the supported subset.
  static PromptBuilder from_chat_template(const inference::ChatConfig& config, ChatExtras extras,
                                          std::string description);
  // The conversation for a server that applies the model's chat template itself: build() gives
  // the user message alone, messages() the whole conversation (system, few-shot, user).
  static PromptBuilder server_chat(ChatExtras extras = {});

  // The prompt for one sample. Chat prompts: [system], few-shot user/assistant turns, then the
  // user message (the instruction, followed by "\n\n" + input when the input is non-empty),
  // rendered with add_generation_prompt. `sample_id` keeps a sample out of its own few-shot
  // turns. Throws inference::ChatTemplateError when the template refuses the conversation.
  std::string build(const std::string& instruction, const std::string& input,
                    const std::string& sample_id = "") const;
  // The conversation build() renders for a chat prompt.
  nlohmann::ordered_json messages(const std::string& instruction, const std::string& input,
                                  const std::string& sample_id = "") const;
  // What the manifest records: "alpaca", "template", a chat format name, or the template's origin.
  const std::string& description() const { return description_; }
  // True for server_chat(): the prompt is a message for the server to render.
  bool is_server_chat() const { return server_chat_; }

 private:
  std::string template_;  // user template; empty for alpaca / chat formats
  std::shared_ptr<const inference::ChatTemplate> chat_;  // null for alpaca / user templates
  inference::ChatConfig chat_config_;
  ChatExtras extras_;
  bool server_chat_ = false;
  std::string description_ = "alpaca";
};

// The few-shot candidates of a run: every record of prompt.fewshot (a dataset file: instruction,
// input and reference fields as the run's), or prompt.fewshot_n + 1 samples drawn from the
// run's whole dataset file with prompt.fewshot_seed. Throws assay::Error naming the file and line.
ChatExtras chat_extras_from(const GenerationSettings& gen, const std::string& dataset_path,
                            const DatasetFields& fields);

// The prompts of a run whose prompt.template is unset: a bundled format, prompt.chat_template
// FILE, or (prompt.chat_format "auto") the chat_template of `tokenizer_dir`'s
// tokenizer_config.json, else Alpaca. Throws assay::Error (invalid input) for a template outside
// the supported subset, naming its line and column.
PromptBuilder chat_prompts_for(const GenerationSettings& gen, const ChatExtras& extras,
                               const std::optional<std::filesystem::path>& tokenizer_dir);

}  // namespace assay::eval
