// `evaluate chat-template`: renders conversations with a model's own Jinja chat template (or a
// user's) and prints {"text": ...} or {"error": ...} per input line, in order.
#include <CLI/CLI.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "eval/commands/command.h"
#include "inference/chat_template.h"

namespace assay::eval {
namespace {
using nlohmann::ordered_json;

struct Conversation {
  int line = 0;
  ordered_json messages, kwargs, tools, documents;
  bool add_generation_prompt = false;
};

// Reads and checks every line first, so bad input fails before anything is printed.
std::vector<Conversation> read_conversations(const std::string& file) {
  std::istringstream in(read_file(file));
  std::vector<Conversation> out;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto where = [&](const std::string& what) {
      return file + ":" + std::to_string(line) + ": " + what;
    };
    ordered_json v = ordered_json::parse(text, nullptr, false);
    if (v.is_discarded() || !v.is_object()) throw_invalid(where("not a JSON object"));
    Conversation c;
    c.line = line;
    auto messages = v.find("messages");
    if (messages == v.end() || !messages->is_array())
      throw_invalid(where("field `messages` must be a list"));
    for (const auto& m : *messages) {
      if (!m.is_object()) throw_invalid(where("each entry of `messages` must be an object"));
    }
    c.messages = *messages;
    auto agp = v.find("add_generation_prompt");
    if (agp != v.end() && !agp->is_boolean())
      throw_invalid(where("field `add_generation_prompt` must be a boolean"));
    c.add_generation_prompt = agp != v.end() && agp->get<bool>();
    auto kwargs = v.find("kwargs");
    if (kwargs != v.end() && !kwargs->is_object() && !kwargs->is_null())
      throw_invalid(where("field `kwargs` must be an object"));
    c.kwargs = kwargs != v.end() && kwargs->is_object() ? *kwargs : ordered_json::object();
    for (const char* key : {"tools", "documents"}) {
      auto it = v.find(key);
      if (it != v.end() && !it->is_null()) {
        if (!it->is_array())
          throw_invalid(where(std::string("field `") + key + "` must be a list"));
        c.kwargs[key] = *it;
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

class ChatTemplateCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* cmd = app.add_subcommand(
        "chat-template",
        "Render conversations with a model's Jinja chat template; prints {\"text\": ...} per input "
        "line, or {\"error\": ...} where the template refuses the conversation (raise_exception). "
        "Exit 0 when every line rendered or was refused by the template; 2 for bad input "
        "(file:line), a template outside the supported subset (naming its line and column), or a "
        "template that failed otherwise on a line (an undefined attribute, bad operand types: that "
        "line gets {\"error\": ...} too, and the first such line is named).");
    cmd->add_option("--tokenizer", tokenizer_,
                    "Model folder; only its tokenizer_config.json is read")
        ->required();
    cmd->add_option(
           "--file", file_,
           "JSONL, one {\"messages\": [...], \"add_generation_prompt\": bool, \"kwargs\": {...}} "
           "per line (optional \"tools\", \"documents\")")
        ->required();
    cmd->add_option("--out", out_file_, "Write the JSONL here instead of stdout");
    cmd->add_option("--chat-template", template_file_,
                    "Use this Jinja template file instead of the config's");
    cmd->add_option("--template-name", template_name_,
                    "Which of a list of named templates (default: \"default\")");
    cmd->add_option("--today", today_, "Fix strftime_now's date, YYYY-MM-DD (default: today)");
    return cmd;
  }

  int run(std::ostream& out) override {
    std::vector<Conversation> conversations = read_conversations(file_);
    inference::ChatConfig config =
        inference::read_chat_config(tokenizer_, template_file_.empty() ? template_name_ : "");
    if (!template_file_.empty()) {
      config.chat_template = read_file(template_file_);
      config.origin = template_file_;
    }
    if (config.origin.empty())
      throw_invalid(tokenizer_ + "/tokenizer_config.json: no chat_template");
    auto tmpl = inference::ChatTemplate::parse(config.chat_template, config.origin, {today_});
    std::ofstream file_out;
    if (!out_file_.empty()) {
      file_out.open(out_file_, std::ios::binary | std::ios::trunc);
      if (!file_out) throw_io(out_file_ + ": cannot open for writing");
    }
    std::ostream& sink = out_file_.empty() ? out : file_out;
    std::string failed;
    for (const Conversation& c : conversations) {
      nlohmann::json line;
      try {
        line["text"] = tmpl.render(
            inference::chat_context(config, c.messages, c.add_generation_prompt, c.kwargs));
      } catch (const inference::ChatTemplateError& e) {
        line["error"] = e.what();
        if (!e.raised_by_template() && failed.empty())
          failed = file_ + ":" + std::to_string(c.line) + ": " + e.what();
      }
      sink << to_jsonl_line(line) << '\n';
    }
    sink.flush();
    if (!sink) throw_io((out_file_.empty() ? std::string("stdout") : out_file_) + ": write failed");
    if (!failed.empty())
      throw_invalid("chat-template: the template failed (not a refusal) at " + failed);
    return kExitOk;
  }

 private:
  std::string tokenizer_, file_, out_file_, template_file_, template_name_, today_;
};

}  // namespace

std::unique_ptr<Command> make_chat_template_command() {
  return std::make_unique<ChatTemplateCommand>();
}

}  // namespace assay::eval
