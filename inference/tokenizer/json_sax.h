// Reading tokenizer.json fast: a DOM of everything but model.vocab and model.merges, which a SAX
// pass streams into flat vectors (a DOM of 100k+ entries takes most of a second). Internal to
// inference/tokenizer/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay::inference::hf {

using nlohmann::json;

// tokenizer.json as parsed: a DOM of everything except model.vocab and model.merges, which are
// streamed into flat vectors (building a DOM for 100k+ entries takes most of a second).
struct ParsedTokenizerJson {
  json root;  // model.vocab is {} and model.merges is [] here
  bool has_vocab = false;
  bool has_merges = false;
  std::vector<std::pair<std::string, int64_t>> vocab;  // token, id (kNotAnInteger when not one)
  std::vector<std::pair<std::string, std::string>> merges;
  std::string merge_error;  // first malformed merge: "model.merges[i]: ..."
  std::string vocab_error;  // first malformed vocab entry
  static constexpr int64_t kNotAnInteger = -1;
};

// Parses tokenizer.json text. Throws assay::Error (invalid input) naming `label` when it is not
// JSON; malformed vocab or merges entries are reported in vocab_error / merge_error.
ParsedTokenizerJson parse_tokenizer_json(std::string_view text, const std::string& label);

}  // namespace assay::inference::hf
