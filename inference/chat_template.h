// A model's Jinja chat template, executed the way Hugging Face transformers' apply_chat_template
// runs it (jinja2 with trim_blocks, lstrip_blocks and loop controls; a tojson that is Python's
// json.dumps with ensure_ascii=False; raise_exception and strftime_now), and the template and
// special tokens read from a tokenizer_config.json. The interpreter lives in inference/jinja/.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace assay::inference {

namespace jinja {
struct Node;
}

// A conversation the template cannot render: the template called raise_exception (the message
// is the template's own), or an operation it performed failed (an undefined attribute, bad
// operand types, a limit exceeded).
class ChatTemplateError : public std::runtime_error {
 public:
  ChatTemplateError(const std::string& message, bool raised_by_template)
      : std::runtime_error(message), raised_by_template_(raised_by_template) {}
  bool raised_by_template() const { return raised_by_template_; }

 private:
  bool raised_by_template_;
};

struct ChatTemplateOptions {
  std::string today;  // fixes strftime_now's date ("YYYY-MM-DD"); empty = the local clock
};

class ChatTemplate {
 public:
  // Parses `source`. Throws assay::Error (invalid input) "<origin>:<line>:<col>: <what>" for a
  // syntax error or a construct outside the supported subset (docs: inference/README.md).
  static ChatTemplate parse(const std::string& source, const std::string& origin,
                            ChatTemplateOptions options = {});
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;
  ~ChatTemplate();

  // Renders with the variables of `context` (a JSON object: messages, add_generation_prompt,
  // tools, bos_token, extra keyword arguments...; object key order is kept, as tojson shows).
  // Throws ChatTemplateError.
  std::string render(const nlohmann::ordered_json& context) const;
  const std::string& origin() const { return origin_; }

 private:
  ChatTemplate() = default;
  std::string origin_;
  ChatTemplateOptions options_;
  std::unique_ptr<std::vector<std::unique_ptr<jinja::Node>>> root_;
};

// What tokenizer_config.json says about chat prompts.
struct ChatConfig {
  std::string chat_template;  // the template's source; empty when the file has none
  std::string origin;         // "<dir>/tokenizer_config.json: chat_template[name]"
  nlohmann::ordered_json special_tokens = nlohmann::ordered_json::object();  // *_token -> text
};

// Reads `dir`/tokenizer_config.json (only that file). A list of named templates picks
// `template_name`, or "default" when empty. Special tokens are the string (or {"content": ...})
// values of keys ending in "_token"; null ones are left out, as transformers does. Throws
// assay::Error: not found for a missing file, invalid input for bad JSON, a chat_template of
// the wrong type or an unknown template name (naming the names there are).
ChatConfig read_chat_config(const std::filesystem::path& dir,
                            const std::string& template_name = "");

// The variables apply_chat_template passes: special tokens, messages, tools, documents (null
// when absent), add_generation_prompt, then `kwargs` (which win).
nlohmann::ordered_json chat_context(
    const ChatConfig& config, const nlohmann::ordered_json& messages, bool add_generation_prompt,
    const nlohmann::ordered_json& kwargs = nlohmann::ordered_json::object());

}  // namespace assay::inference
