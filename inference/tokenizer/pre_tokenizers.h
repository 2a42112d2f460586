// tokenizer.json's pre-tokenizers (the Rust `tokenizers` library's pre_tokenizers module): Split
// (string or regex, every split behaviour), ByteLevel, Metaspace, and Sequence (flattened).
// Internal to inference/tokenizer/.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inference/tokenizer/reader.h"
#include "inference/tokenizer/regex.h"

namespace assay::inference::hf {

struct PreTokenizer {
  enum class Type { kSplit, kByteLevel, kMetaspace };
  enum class Behavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext };
  Type type;
  std::unique_ptr<TokenizerRegex> regex;  // Split; ByteLevel with use_regex
  Behavior behavior = Behavior::kIsolated;
  bool add_prefix_space = false;  // ByteLevel
  std::string replacement;        // Metaspace
  enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;
  bool split = true;  // Metaspace

  // Splits every piece of `pieces`. `first_piece_is_text_start`: pieces[0] begins the input.
  void apply(std::vector<std::string>& pieces, bool first_piece_is_text_start) const;
};

// One node of the section whose "type" is `type` (neither null nor a "Sequence": parse_pipeline
// in reader.h takes those). Throws assay::Error naming the JSON path for an unsupported type or
// a malformed field.
PreTokenizer parse_pre_tokenizer(const Reader& r, const json& node, const std::string& type,
                                 const std::string& where);

}  // namespace assay::inference::hf
