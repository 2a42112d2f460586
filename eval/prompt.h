// Prompting for `evaluate run`: turns a sample's instruction (and optional input) into the prompt
// text the model continues. Owns the default Alpaca template (the LLM-Engineers-Handbook's),
// user templates with {instruction}/{input} placeholders, and the built-in chat formats.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace assay::eval {

// Built-in chat formats (one user turn, no system prompt, generation prompt appended). The
// prompt text never contains the BOS token: the tokenizer adds it (encode with special tokens),
// as Hugging Face does for a plain-text prompt.
enum class ChatFormat {
  kNone,    // no chat wrapping: the (Alpaca or user) template
  kChatml,  // "<|im_start|>user\n{msg}<|im_end|>\n<|im_start|>assistant\n"
  kLlama3,  // "<|start_header_id|>user<|end_header_id|>\n\n{msg}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
  kLlama2,  // "[INST] {msg} [/INST]"
  kMistral,  // "[INST] {msg} [/INST]" (same text as llama2 without a system prompt)
};

// "none", "chatml", "llama3", "llama2", "mistral".
std::string_view chat_format_name(ChatFormat format);
// Parses a chat format name (not "auto"); nullopt for an unknown name.
std::optional<ChatFormat> parse_chat_format(std::string_view name);

// Detects the chat format from the text of a Jinja chat_template (heuristics, first match wins):
// "<|im_start|>" -> chatml; "<|start_header_id|>" -> llama3; "[INST]" with "<<SYS>>" -> llama2;
// "[INST]" -> mistral; anything else -> kNone.
ChatFormat detect_chat_format(std::string_view chat_template);

// Reads tokenizer_config.json in `tokenizer_dir` and detects its chat_template (a string, or a
// list of {"name", "template"} where "default" or else the first entry is used). kNone when the
// file or the template is absent. Throws assay::Error (invalid input) for a file that is not JSON.
ChatFormat detect_chat_format_in(const std::filesystem::path& tokenizer_dir);

// The Handbook's Alpaca template (used when the sample has no input).
extern const char* const kAlpacaTemplate;
// The standard Alpaca "with input" variant (used when the sample's input is non-empty).
extern const char* const kAlpacaInputTemplate;

// Builds prompts. Templates use Python str.format-like placeholders: {instruction}, {input};
// "{{" and "}}" are literal braces.
class PromptBuilder {
 public:
  // The default: Alpaca (with the "with input" variant for samples that have an input).
  PromptBuilder();
  // A user template. `key` names its origin in messages ("prompt.template (from run.json)").
  // Throws assay::Error (invalid input) naming `key` for an unknown placeholder, an unclosed
  // "{" or a stray "}".
  static PromptBuilder from_template(const std::string& tmpl, const std::string& key);
  // A chat format (kNone gives the default Alpaca builder).
  static PromptBuilder from_chat_format(ChatFormat format);
  // The user message alone, for a server that applies the model's chat template itself.
  static PromptBuilder server_chat();

  // The prompt for one sample. Chat formats wrap the user message: the instruction, followed by
  // "\n\n" + input when the input is non-empty.
  std::string build(const std::string& instruction, const std::string& input) const;
  // What the manifest records: "alpaca", "template", or the chat format name.
  const std::string& description() const { return description_; }
  // True for server_chat(): the prompt is a message for the server to render.
  bool is_server_chat() const { return server_chat_; }

 private:
  std::string template_;  // user template; empty for alpaca / chat formats
  ChatFormat chat_ = ChatFormat::kNone;
  bool server_chat_ = false;
  std::string description_ = "alpaca";
};

}  // namespace assay::eval
