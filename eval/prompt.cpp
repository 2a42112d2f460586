#include "eval/prompt.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace assay::eval {
namespace {

enum class Part { kText, kInstruction, kInput };

// Expands a template; throws naming `key` for a bad placeholder.
std::string expand(const std::string& tmpl, const std::string& key, const std::string* instruction,
                   const std::string* input) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c == '{') {
      if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      size_t close = tmpl.find('}', i);
      if (close == std::string::npos) {
        throw_invalid(key + ": unclosed '{' at offset " + std::to_string(i) +
                      " (write '{{' for a literal brace)");
      }
      std::string name = tmpl.substr(i + 1, close - i - 1);
      if (name == "instruction") {
        if (instruction) out += *instruction;
      } else if (name == "input") {
        if (input) out += *input;
      } else {
        throw_invalid(key + ": unknown placeholder '{" + name +
                      "}' (known: {instruction}, {input}; write '{{' for a literal brace)");
      }
      i = close;
    } else if (c == '}') {
      if (i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      throw_invalid(key + ": stray '}' at offset " + std::to_string(i) +
                    " (write '}}' for a literal brace)");
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

const char* const kAlpacaTemplate =
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n";
const char* const kAlpacaInputTemplate =
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
    "{instruction}\n\n### Input:\n{input}\n\n### Response:\n";

std::string_view chat_format_name(ChatFormat format) {
  switch (format) {
    case ChatFormat::kNone:
      return "none";
    case ChatFormat::kChatml:
      return "chatml";
    case ChatFormat::kLlama3:
      return "llama3";
    case ChatFormat::kLlama2:
      return "llama2";
    case ChatFormat::kMistral:
      return "mistral";
  }
  return "none";
}

std::optional<ChatFormat> parse_chat_format(std::string_view name) {
  for (ChatFormat f : {ChatFormat::kNone, ChatFormat::kChatml, ChatFormat::kLlama3,
                       ChatFormat::kLlama2, ChatFormat::kMistral}) {
    if (chat_format_name(f) == name) return f;
  }
  return std::nullopt;
}

ChatFormat detect_chat_format(std::string_view t) {
  if (t.find("<|im_start|>") != std::string_view::npos) return ChatFormat::kChatml;
  if (t.find("<|start_header_id|>") != std::string_view::npos) return ChatFormat::kLlama3;
  if (t.find("[INST]") != std::string_view::npos) {
    return t.find("<<SYS>>") != std::string_view::npos ? ChatFormat::kLlama2 : ChatFormat::kMistral;
  }
  return ChatFormat::kNone;
}

ChatFormat detect_chat_format_in(const std::filesystem::path& tokenizer_dir) {
  std::filesystem::path path = tokenizer_dir / "tokenizer_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ChatFormat::kNone;
  nlohmann::json cfg = nlohmann::json::parse(read_file(path), nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) {
    throw_invalid(path.string() + ": not a JSON object");
  }
  if (!cfg.contains("chat_template")) return ChatFormat::kNone;
  const nlohmann::json& ct = cfg["chat_template"];
  if (ct.is_string()) return detect_chat_format(ct.get<std::string>());
  if (ct.is_array()) {
    const nlohmann::json* chosen = nullptr;
    for (const auto& entry : ct) {
      if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string()) {
        continue;
      }
      if (chosen == nullptr) chosen = &entry;
      if (entry.value("name", "") == "default") {
        chosen = &entry;
        break;
      }
    }
    if (chosen) return detect_chat_format((*chosen)["template"].get<std::string>());
  }
  return ChatFormat::kNone;
}

PromptBuilder::PromptBuilder() = default;

PromptBuilder PromptBuilder::from_template(const std::string& tmpl, const std::string& key) {
  expand(tmpl, key, nullptr, nullptr);  // validates
  PromptBuilder b;
  b.template_ = tmpl;
  b.description_ = "template";
  return b;
}

PromptBuilder PromptBuilder::from_chat_format(ChatFormat format) {
  PromptBuilder b;
  b.chat_ = format;
  b.description_ = format == ChatFormat::kNone ? "alpaca" : std::string(chat_format_name(format));
  return b;
}

PromptBuilder PromptBuilder::server_chat() {
  PromptBuilder b;
  b.server_chat_ = true;
  b.description_ = "server chat template";
  return b;
}

std::string PromptBuilder::build(const std::string& instruction, const std::string& input) const {
  if (!template_.empty()) return expand(template_, "prompt.template", &instruction, &input);
  std::string msg = input.empty() ? instruction : instruction + "\n\n" + input;
  if (server_chat_) return msg;
  switch (chat_) {
    case ChatFormat::kNone:
      return expand(input.empty() ? kAlpacaTemplate : kAlpacaInputTemplate, "alpaca", &instruction,
                    &input);
    case ChatFormat::kChatml:
      return "<|im_start|>user\n" + msg + "<|im_end|>\n<|im_start|>assistant\n";
    case ChatFormat::kLlama3:
      return "<|start_header_id|>user<|end_header_id|>\n\n" + msg +
             "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    case ChatFormat::kLlama2:
    case ChatFormat::kMistral:
      return "[INST] " + msg + " [/INST]";
  }
  return msg;
}

}  // namespace assay::eval
