// TER exactly as sacrebleu 2.6.0 computes it (its Tercom-style beam edit distance and greedy
// block shifts, with the same limits and tie-breaking), default settings: lower-cased (Python
// str.lower()), no normalisation, punctuation kept, words = str.split(). The search is the same;
// it is fast because rows of the edit-distance matrix are reused across shift candidates and
// words are compared as interned ids. Invalid UTF-8 is decoded with U+FFFD replacement.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace assay::scoring {

// Longest sentence (in words, either side) that TER is computed for. Longer pairs give NaN
// statistics (a defined per-sample "not computed" value) instead of a multi-minute search. At the
// limit an adversarial pair (20,000 words from a 3-word vocabulary) takes about 7 s.
inline constexpr std::int64_t kTerMaxWords = 20000;

// TER statistics; they add up over a corpus.
struct TerStats {
  double num_edits = 0.0;   // shifts + edit distance (an integer value); NaN when not computed
  double ref_length = 0.0;  // reference words
  TerStats& operator+=(const TerStats& o);
};

// Statistics of one pair.
TerStats ter_stats(std::string_view hypothesis, std::string_view reference);

// 100 * num_edits / ref_length; with ref_length 0: 100 when num_edits > 0, else 0.
double ter_score(const TerStats& stats);

// sacrebleu.sentence_ter(hyp, [ref]).score.
double sentence_ter(std::string_view hypothesis, std::string_view reference);

// sacrebleu's translation_edit_rate on word ids: (number of edits, reference length).
std::int64_t ter_edits(std::span<const std::uint32_t> hyp, std::span<const std::uint32_t> ref);

}  // namespace assay::scoring
