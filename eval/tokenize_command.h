// `evaluate tokenize`: encodes text with a model's tokenizer and prints one JSON object per input,
// in input order: {"ids": [...]} (and "text" decoded back with --decode).
#pragma once

#include <ostream>
#include <string>

namespace assay::eval {

struct TokenizeCommandOptions {
  std::string tokenizer;           // model folder, tokenizer.json or tokenizer.model (required)
  std::string text;                // --text: the one input (used when has_text)
  bool has_text = false;           // --text was given (an empty string is a valid input)
  std::string file;                // --file: JSONL, one {"text": ...} per line; "" when unset
  bool add_special_tokens = true;  // false with --no-special
  bool decode = false;             // --decode: add "text", the ids decoded back (specials kept)
};

// Runs the command and writes one JSON line per input to `out`. Returns the exit code (0).
// Throws assay::Error: invalid input (neither or both of --text/--file, a bad line named as
// file:line, a malformed tokenizer), not found (no tokenizer, no input file).
int run_tokenize_command(const TokenizeCommandOptions& options, std::ostream& out);

}  // namespace assay::eval
