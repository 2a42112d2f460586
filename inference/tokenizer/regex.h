// A compiled PCRE2 regex (UTF + Unicode properties, JIT) for tokenizer.json Split pre-tokenizers
// and Replace normalizers: `\p{L}`, `\p{N}` and the `\s+(?!\S)` lookahead that Llama-3, Qwen and
// GPT-2 patterns use. Internal to inference/.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace assay::inference {

class TokenizerRegex {
 public:
  // Compiles `pattern`. Throws assay::Error (invalid input) "<context>: regex ...: <reason>".
  TokenizerRegex(const std::string& pattern, const std::string& context);
  ~TokenizerRegex();
  TokenizerRegex(const TokenizerRegex&) = delete;
  TokenizerRegex& operator=(const TokenizerRegex&) = delete;

  // Appends the [begin, end) byte ranges of all non-overlapping, non-empty matches in `text`,
  // left to right, to `out`. `text` must be valid UTF-8. Thread-safe.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace assay::inference
