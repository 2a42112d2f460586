// tokenizer.json's post-processor (the Rust `tokenizers` library's processors module) as it acts
// on encode(add_special_tokens): the ids put before and after one sequence. TemplateProcessing
// (single), RobertaProcessing, BertProcessing, ByteLevel (ids unchanged), and Sequence.
// Internal to inference/tokenizer/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "inference/tokenizer/reader.h"

namespace assay::inference::hf {

// Post-processor template for add_special_tokens: ids before and after the sequence.
struct PostProcessor {
  std::vector<int32_t> before;
  std::vector<int32_t> after;
};

// A token's id in the vocabulary (nullopt: not in it).
using TokenIdLookup = std::function<std::optional<int32_t>(const std::string&)>;

// Adds the parsed node's ids to out (null: nothing). Special tokens of a template that its
// special_tokens map does not list are looked up with token_id; throws assay::Error naming the
// JSON path when one is unknown.
void parse_post_processor(const Reader& r, const json& node, const std::string& where,
                          const TokenIdLookup& token_id, PostProcessor& out);

}  // namespace assay::inference::hf
