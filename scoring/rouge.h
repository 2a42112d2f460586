// ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum exactly as Google's rouge-score 0.1.2 computes them
// (RougeScorer(...).score(target, prediction)), with or without its Porter stemmer (NLTK 3.8,
// applied to tokens longer than 3 characters). Tokenizer: Python str.lower(), then every run of
// characters outside [a-z0-9] is a separator. ROUGE-Lsum splits on "\n" only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace assay::scoring {

// Largest LCS table (target tokens x prediction tokens, per sentence pair for ROUGE-Lsum) that
// is computed; beyond it ROUGE-L / ROUGE-Lsum are NaN (a defined "not computed" per-sample value)
// rather than gigabytes of memory.
inline constexpr std::uint64_t kRougeMaxLcsCells = std::uint64_t{1} << 26;

struct RougePrf {
  double precision = 0.0;
  double recall = 0.0;
  double fmeasure = 0.0;
};

struct RougeScores {
  RougePrf rouge1, rouge2, rougeL, rougeLsum;
};

// rouge-score's tokenize(): lower-case ASCII [a-z0-9]+ tokens, stemmed when `stem` is true.
// Invalid UTF-8 is decoded with U+FFFD replacement (which is a separator).
std::vector<std::string> rouge_tokenize(std::string_view text, bool stem);

// All four ROUGE types for one pair. Note the order: prediction first, like every metric here
// (rouge-score's own call is score(target, prediction)). All scores are 0 when either side has
// no tokens.
RougeScores rouge_scores(std::string_view prediction, std::string_view reference, bool stem);

}  // namespace assay::scoring
