#include "eval/prompt.h"

#include <nlohmann/json.hpp>
#include <random>

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

std::string_view bundled_chat_template(ChatFormat format) {
  // Each renders one user turn exactly as the hand-written formats did before (no BOS).
  switch (format) {
    case ChatFormat::kNone:
      return "";
    case ChatFormat::kChatml:
      return "{%- for message in messages %}"
             "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
             "{%- endfor %}"
             "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{%- endif %}";
    case ChatFormat::kLlama3:
      return "{%- for message in messages %}"
             "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + "
             "message['content'] + '<|eot_id|>' }}"
             "{%- endfor %}"
             "{%- if add_generation_prompt %}"
             "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}";
    case ChatFormat::kLlama2:
      return "{%- if messages and messages[0]['role'] == 'system' %}"
             "{%- set system = messages[0]['content'] %}{%- set messages = messages[1:] %}"
             "{%- endif %}"
             "{%- for message in messages %}"
             "{%- if message['role'] == 'user' %}"
             "{{ '[INST] ' + ('<<SYS>>\n' + system + '\n<</SYS>>\n\n' if loop.first and system "
             "is defined else '') + message['content'] + ' [/INST]' }}"
             "{%- elif message['role'] == 'assistant' %}"
             "{{ ' ' + message['content'] + ' ' + (eos_token if eos_token is defined else '') }}"
             "{%- endif %}"
             "{%- endfor %}";
    case ChatFormat::kMistral:
      return "{%- if messages and messages[0]['role'] == 'system' %}"
             "{%- set system = messages[0]['content'] %}{%- set messages = messages[1:] %}"
             "{%- endif %}"
             "{%- for message in messages %}"
             "{%- if message['role'] == 'user' %}"
             "{{ '[INST] ' + (system + '\n\n' if loop.first and system is defined else '') + "
             "message['content'] + ' [/INST]' }}"
             "{%- elif message['role'] == 'assistant' %}"
             "{{ ' ' + message['content'] + (eos_token if eos_token is defined else '') }}"
             "{%- endif %}"
             "{%- endfor %}";
  }
  return "";
}

PromptBuilder::PromptBuilder() = default;

PromptBuilder PromptBuilder::from_template(const std::string& tmpl, const std::string& key) {
  expand(tmpl, key, nullptr, nullptr);  // validates
  PromptBuilder b;
  b.template_ = tmpl;
  b.description_ = "template";
  return b;
}

PromptBuilder PromptBuilder::from_chat_format(ChatFormat format, ChatExtras extras) {
  if (format == ChatFormat::kNone) return PromptBuilder();
  inference::ChatConfig config;
  config.chat_template = std::string(bundled_chat_template(format));
  config.origin = "bundled chat format " + std::string(chat_format_name(format));
  return from_chat_template(config, std::move(extras), std::string(chat_format_name(format)));
}

PromptBuilder PromptBuilder::from_chat_template(const inference::ChatConfig& config,
                                                ChatExtras extras, std::string description) {
  PromptBuilder b;
  b.chat_ = std::make_shared<const inference::ChatTemplate>(
      inference::ChatTemplate::parse(config.chat_template, config.origin));
  b.chat_config_ = config;
  b.extras_ = std::move(extras);
  b.description_ = std::move(description);
  return b;
}

PromptBuilder PromptBuilder::server_chat(ChatExtras extras) {
  PromptBuilder b;
  b.server_chat_ = true;
  b.extras_ = std::move(extras);
  b.description_ = "server chat template";
  return b;
}

nlohmann::ordered_json PromptBuilder::messages(const std::string& instruction,
                                               const std::string& input,
                                               const std::string& sample_id) const {
  auto turn = [](const std::string& role, const std::string& content) {
    return nlohmann::ordered_json{{"role", role}, {"content", content}};
  };
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  if (!extras_.system.empty()) msgs.push_back(turn("system", extras_.system));
  size_t used = 0;
  for (const FewShot& shot : extras_.fewshot) {
    if (used == extras_.fewshot_count) break;
    if (!sample_id.empty() && shot.id == sample_id) continue;
    msgs.push_back(turn("user", shot.user));
    msgs.push_back(turn("assistant", shot.assistant));
    ++used;
  }
  msgs.push_back(turn("user", input.empty() ? instruction : instruction + "\n\n" + input));
  return msgs;
}

std::string PromptBuilder::build(const std::string& instruction, const std::string& input,
                                 const std::string& sample_id) const {
  if (!template_.empty()) return expand(template_, "prompt.template", &instruction, &input);
  if (server_chat_) return input.empty() ? instruction : instruction + "\n\n" + input;
  if (!chat_) {
    return expand(input.empty() ? kAlpacaTemplate : kAlpacaInputTemplate, "alpaca", &instruction,
                  &input);
  }
  return chat_->render(inference::chat_context(chat_config_,
                                               messages(instruction, input, sample_id),
                                               /*add_generation_prompt=*/true, extras_.kwargs));
}

ChatExtras chat_extras_from(const GenerationSettings& gen, const std::string& dataset_path,
                            const DatasetFields& fields) {
  ChatExtras extras;
  extras.system = gen.system;
  extras.kwargs = nlohmann::ordered_json::parse(gen.chat_template_kwargs.dump());
  if (gen.fewshot_file.empty() && gen.fewshot_n == 0) return extras;
  DatasetNeeds needs;
  needs.instruction = true;
  needs.reference = true;
  Dataset shots =
      load_dataset(gen.fewshot_file.empty() ? dataset_path : gen.fewshot_file, fields, needs);
  std::vector<size_t> order(shots.samples.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (gen.fewshot_n > 0) {
    if (static_cast<size_t>(gen.fewshot_n) >= shots.samples.size()) {
      throw_invalid("prompt.fewshot_n: " + std::to_string(gen.fewshot_n) +
                    " examples need more than " + std::to_string(shots.samples.size()) +
                    " samples in " + dataset_path);
    }
    // A Fisher-Yates shuffle with a fixed generator: the same draw on every host and rerun.
    std::mt19937_64 rng(gen.fewshot_seed);
    for (size_t i = order.size() - 1; i > 0; --i) {
      std::swap(order[i], order[static_cast<size_t>(rng() % (i + 1))]);
    }
    order.resize(static_cast<size_t>(gen.fewshot_n) + 1);  // one spare for the sample itself
  }
  for (size_t i : order) {
    const Sample& s = shots.samples[i];
    extras.fewshot.push_back(
        {s.id, s.input.empty() ? s.instruction : s.instruction + "\n\n" + s.input, s.reference});
  }
  extras.fewshot_count =
      gen.fewshot_n > 0 ? static_cast<size_t>(gen.fewshot_n) : shots.samples.size();
  return extras;
}

PromptBuilder chat_prompts_for(const GenerationSettings& gen, const ChatExtras& extras,
                               const std::optional<std::filesystem::path>& tokenizer_dir) {
  if (!gen.chat_template_file.empty()) {
    inference::ChatConfig config;
    if (tokenizer_dir) config = inference::read_chat_config(*tokenizer_dir);  // special tokens
    config.chat_template = read_file(gen.chat_template_file);
    config.origin = gen.chat_template_file;
    return PromptBuilder::from_chat_template(config, extras,
                                             "chat_template " + gen.chat_template_file);
  }
  if (gen.chat_format != "auto")
    return PromptBuilder::from_chat_format(*parse_chat_format(gen.chat_format), extras);
  std::optional<inference::ChatConfig> config;
  if (tokenizer_dir && std::filesystem::exists(*tokenizer_dir / "tokenizer_config.json")) {
    config = inference::read_chat_config(*tokenizer_dir, gen.chat_template_name);
  }
  if (!config || config->chat_template.empty()) return PromptBuilder();
  return PromptBuilder::from_chat_template(*config, extras, "auto (" + config->origin + ")");
}

}  // namespace assay::eval
