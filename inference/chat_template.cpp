#include "inference/chat_template.h"

#include "core/error.h"
#include "core/fs.h"
#include "inference/jinja/builtins.h"
#include "inference/jinja/interpreter.h"
#include "inference/jinja/parser.h"

namespace assay::inference {

ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

ChatTemplate ChatTemplate::parse(const std::string& source, const std::string& origin,
                                 ChatTemplateOptions options) {
  ChatTemplate t;
  t.origin_ = origin;
  t.options_ = std::move(options);
  try {
    t.root_ = std::make_unique<jinja::Body>(jinja::parse(source));
  } catch (const jinja::SyntaxError& e) {
    throw_invalid(origin + ":" + std::to_string(e.line) + ":" + std::to_string(e.col) + ": " +
                  e.message);
  }
  return t;
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  std::unordered_map<std::string, jinja::Value> globals;
  jinja::add_builtin_globals(globals, options_.today);
  if (context.is_object()) {
    for (auto it = context.begin(); it != context.end(); ++it) {
      globals[it.key()] = jinja::Value::from_json(it.value());
    }
  }
  try {
    return jinja::Interpreter(*root_, jinja::RenderLimits{}).render(std::move(globals));
  } catch (const jinja::TemplateError& e) {
    throw ChatTemplateError(e.what(), e.raised_by_template());
  }
}

namespace {

std::string token_text(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return {};
}

}  // namespace

ChatConfig read_chat_config(const std::filesystem::path& dir, const std::string& template_name) {
  std::filesystem::path path = dir / "tokenizer_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw_not_found(path.string() + ": not found");
  auto cfg = nlohmann::ordered_json::parse(read_file(path), nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) throw_invalid(path.string() + ": not a JSON object");
  ChatConfig out;
  for (auto it = cfg.begin(); it != cfg.end(); ++it) {
    const std::string& key = it.key();
    if (key.size() > 6 && key.compare(key.size() - 6, 6, "_token") == 0) {
      std::string text = token_text(it.value());
      if (!text.empty() || it.value().is_string()) out.special_tokens[key] = text;
    }
  }
  auto ct = cfg.find("chat_template");
  if (ct == cfg.end() || ct->is_null()) {
    if (!template_name.empty())
      throw_invalid(path.string() + ": no chat_template named '" + template_name + "'");
    return out;
  }
  if (ct->is_string()) {
    if (!template_name.empty() && template_name != "default") {
      throw_invalid(path.string() + ": chat_template is a single template; no template named '" +
                    template_name + "'");
    }
    out.chat_template = ct->get<std::string>();
    out.origin = path.string() + ": chat_template";
    return out;
  }
  if (!ct->is_array())
    throw_invalid(path.string() + ": field `chat_template` must be a string or a list");
  const std::string want = template_name.empty() ? "default" : template_name;
  std::string names;
  for (const auto& entry : *ct) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
        !entry.contains("template") || !entry["template"].is_string()) {
      throw_invalid(path.string() +
                    ": each entry of `chat_template` needs string fields `name` and `template`");
    }
    std::string name = entry["name"].get<std::string>();
    if (name == want) {
      out.chat_template = entry["template"].get<std::string>();
      out.origin = path.string() + ": chat_template[" + name + "]";
      return out;
    }
    names += (names.empty() ? "" : ", ") + name;
  }
  throw_invalid(path.string() + ": no chat template named '" + want + "' (there are: " + names +
                "; choose one with prompt.chat_template_name)");
}

nlohmann::ordered_json chat_context(const ChatConfig& config,
                                    const nlohmann::ordered_json& messages,
                                    bool add_generation_prompt,
                                    const nlohmann::ordered_json& kwargs) {
  nlohmann::ordered_json ctx = config.special_tokens;
  ctx["messages"] = messages;
  ctx["tools"] = nullptr;
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = add_generation_prompt;
  if (kwargs.is_object()) {
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it) ctx[it.key()] = it.value();
  }
  return ctx;
}

}  // namespace assay::inference
