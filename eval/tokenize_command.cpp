#include "eval/tokenize_command.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/jsonl.h"
#include "inference/tokenizer.h"

namespace assay::eval {

using nlohmann::json;

namespace {

void print_one(const inference::Tokenizer& tokenizer, const std::string& text,
               const TokenizeCommandOptions& options, std::ostream& out) {
  std::vector<int32_t> ids = tokenizer.encode(text, options.add_special_tokens);
  json line = {{"ids", ids}};
  if (options.decode) line["text"] = tokenizer.decode(ids, false);
  out << to_jsonl_line(line) << '\n';
}

}  // namespace

int run_tokenize_command(const TokenizeCommandOptions& options, std::ostream& out) {
  if (options.has_text == !options.file.empty()) {
    throw_invalid("tokenize: give exactly one of --text or --file");
  }
  // Read the inputs before loading the tokenizer so a bad input file fails fast.
  std::vector<std::string> texts;
  if (options.has_text) {
    texts.push_back(options.text);
  } else {
    JsonlContents contents = read_jsonl(options.file, TornTail::kError);
    for (const auto& record : contents.records) {
      const json& v = record.value;
      auto it = v.is_object() ? v.find("text") : v.end();
      if (!v.is_object() || it == v.end() || !it->is_string()) {
        throw_invalid(options.file + ":" + std::to_string(record.line) +
                      ": each line must be an object with a string field 'text'");
      }
      texts.push_back(it->get<std::string>());
    }
  }
  auto tokenizer = inference::Tokenizer::load(options.tokenizer);
  for (const auto& text : texts) print_one(*tokenizer, text, options, out);
  out.flush();
  return kExitOk;
}

}  // namespace assay::eval
