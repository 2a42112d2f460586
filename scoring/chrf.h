// chrF and chrF++ exactly as sacrebleu 2.6.0 computes them: character n-grams up to order 6 over
// the text with all (Unicode) whitespace removed, optional word n-grams (chrF++: order 2) over
// words with one leading/trailing ASCII punctuation mark split off, β = 2, case-sensitive, no
// eps smoothing. Corpus chrF is computed from summed statistics. Invalid UTF-8 is decoded with
// U+FFFD replacement first.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace assay::scoring {

inline constexpr int kChrfCharOrder = 6;
inline constexpr int kChrfMaxWordOrder = 2;

// Per-order statistics [hyp n-grams, ref n-grams, matched n-grams]; char orders 1..6 first, then
// word orders 1..word_order. As in sacrebleu, the hyp count is 0 for an order the reference has
// no n-grams of. Entries past char+word order stay 0. They add up over a corpus.
struct ChrfStats {
  std::array<std::int64_t, 3 * (kChrfCharOrder + kChrfMaxWordOrder)> values{};
  int word_order = 0;
  ChrfStats& operator+=(const ChrfStats& o);
};

// Statistics of one pair; word_order is 0 (chrF) or 1..2 (2 = chrF++).
ChrfStats chrf_stats(std::string_view hypothesis, std::string_view reference, int word_order);

// sacrebleu CHRF._compute_f_score (β = 2): 0-100.
double chrf_score(const ChrfStats& stats);

// sacrebleu.sentence_chrf(hyp, [ref], word_order=word_order).score.
double sentence_chrf(std::string_view hypothesis, std::string_view reference, int word_order = 0);

}  // namespace assay::scoring
