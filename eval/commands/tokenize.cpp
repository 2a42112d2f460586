// `evaluate tokenize`: encodes text with a model's tokenizer; prints {"ids": [...]} per input.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/jsonl.h"
#include "eval/commands/command.h"
#include "inference/tokenizer.h"

namespace assay::eval {
namespace {
using nlohmann::json;

// The inputs: --text, or each line's "text" of a JSONL --file (read before the tokenizer loads,
// so a bad input file fails fast).
std::vector<std::string> read_texts(bool has_text, const std::string& text,
                                    const std::string& file) {
  if (has_text == !file.empty()) throw_invalid("tokenize: give exactly one of --text or --file");
  if (has_text) return {text};
  std::vector<std::string> texts;
  for (const auto& record : read_jsonl(file, TornTail::kError).records) {
    const json& v = record.value;
    auto it = v.is_object() ? v.find("text") : v.end();
    if (!v.is_object() || it == v.end() || !it->is_string()) {
      throw_invalid(file + ":" + std::to_string(record.line) +
                    ": each line must be an object with a string field 'text'");
    }
    texts.push_back(it->get<std::string>());
  }
  return texts;
}

class TokenizeCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* tokenize = app.add_subcommand(
        "tokenize", "Encode text with a model's tokenizer; prints {\"ids\": [...]} per input");
    tokenize
        ->add_option("--tokenizer", tokenizer_, "Model folder, tokenizer.json or tokenizer.model")
        ->required();
    text_flag_ = tokenize->add_option("--text", text_, "The text to encode");
    tokenize->add_option("--file", file_, "JSONL file, one {\"text\": ...} per line")
        ->excludes(text_flag_);
    tokenize->add_flag("--no-special", no_special_, "Do not add special tokens (BOS etc.)");
    tokenize->add_flag("--decode", decode_, "Also print the ids decoded back");
    return tokenize;
  }
  int run(std::ostream& out) override {
    const std::vector<std::string> texts = read_texts(text_flag_->count() > 0, text_, file_);
    auto tokenizer = inference::Tokenizer::load(tokenizer_);
    for (const auto& text : texts) {
      std::vector<int32_t> ids = tokenizer->encode(text, !no_special_);
      json line = {{"ids", ids}};
      if (decode_) line["text"] = tokenizer->decode(ids, false);
      out << to_jsonl_line(line) << '\n';
    }
    out.flush();
    return kExitOk;
  }

 private:
  std::string tokenizer_, text_, file_;
  CLI::Option* text_flag_ = nullptr;
  bool no_special_ = false, decode_ = false;
};

}  // namespace

std::unique_ptr<Command> make_tokenize_command() {
  return std::make_unique<TokenizeCommand>();
}

}  // namespace assay::eval
