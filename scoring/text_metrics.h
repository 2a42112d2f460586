// Simple per-sample checks on an answer: regex match (PCRE2), substring containment, valid JSON
// and answer length. Each returns 1.0 / 0.0 or a count.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace assay::scoring {

// A compiled PCRE2 pattern (UTF mode; invalid UTF-8 in the subject is tolerated, never read
// past). Thread-safe to use from many threads once built.
class RegexMatcher {
 public:
  // Compiles `pattern`; `full` requires the whole (stripped) answer to match, else a match
  // anywhere counts. Throws assay::Error (invalid input) with PCRE2's message and offset.
  RegexMatcher(const std::string& pattern, bool full, bool ignore_case);
  ~RegexMatcher();
  RegexMatcher(const RegexMatcher&) = delete;
  RegexMatcher& operator=(const RegexMatcher&) = delete;

  // 1.0 on a match, 0.0 on none, NaN when PCRE2 gives up (match/depth limit: a pathological
  // pattern on this subject), so one sample cannot hang a run.
  double match(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// 1.0 when the reference, stripped of surrounding whitespace, occurs in the prediction (Python
// `ref.strip() in pred`; an empty reference is contained in everything), else 0.0.
double contains(std::string_view prediction, std::string_view reference, bool ignore_case);

// 1.0 when the answer, stripped of surrounding whitespace, is one valid JSON value (RFC 8259,
// nlohmann's parser), else 0.0.
double valid_json(std::string_view text);

// Number of words: Python str.split() pieces (Unicode whitespace).
double answer_words(std::string_view text);

}  // namespace assay::scoring
