// tokenizer.json's normalizers (the Rust `tokenizers` library's normalizers module): NFC, NFD,
// NFKC, NFKD, Lowercase, Prepend, Replace, Strip, and Sequence (flattened). Internal to
// inference/tokenizer/.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inference/tokenizer/reader.h"
#include "inference/tokenizer/regex.h"

namespace assay::inference::hf {

struct Normalizer {
  enum class Type { kNfc, kNfd, kNfkc, kNfkd, kLowercase, kPrepend, kReplace, kStrip };
  Type type;
  std::string a, b;                       // Prepend: a; Replace: a -> b
  std::unique_ptr<TokenizerRegex> regex;  // Replace with a Regex pattern
  bool left = false, right = false;       // Strip

  void apply(std::string& s) const;
};

// s with every `from` replaced by `to` (left to right, not overlapping); unchanged for an empty
// `from`. (Replace normalizer; also the Metaspace pre-tokenizer and the Replace decoder.)
void replace_all(std::string& s, std::string_view from, std::string_view to);

// One node of the section whose "type" is `type` (neither null nor a "Sequence": parse_pipeline
// in reader.h takes those). Throws assay::Error naming the JSON path for an unsupported type or
// a malformed field.
Normalizer parse_normalizer(const Reader& r, const json& node, const std::string& type,
                            const std::string& where);

}  // namespace assay::inference::hf
