// BLEU exactly as sacrebleu 2.6.0 computes it: the 13a tokenizer, n-gram statistics up to order
// 4, `exp` smoothing, the brevity penalty, and effective order for sentence BLEU.
// Invalid UTF-8 is decoded with U+FFFD replacement first (see scoring/text.h).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace assay::scoring {

inline constexpr int kBleuOrder = 4;

// sacrebleu's Tokenizer13a: unescapes a few entities, drops "<skipped>" and "-\n", splits off
// punctuation (mteval-v13a rules), and returns the tokens (Python str.split() of the result).
// This is the literal multi-pass form (one pass per regex over the whole line), kept as the
// reference the fast path is tested against.
std::vector<std::string> tokenize_13a(std::string_view text);

// The same tokens as tokenize_13a computed in one pass over the text, chunk by chunk (the path
// bleu_stats takes). Public so tests and the fuzzer can check the two agree.
std::vector<std::string> tokenize_13a_fast(std::string_view text);

// Sufficient statistics of one or more (hypothesis, reference) pairs; they add up over a corpus.
struct BleuStats {
  std::int64_t sys_len = 0;                       // hypothesis tokens
  std::int64_t ref_len = 0;                       // reference tokens
  std::array<std::int64_t, kBleuOrder> counts{};  // matched n-grams per order (clipped)
  std::array<std::int64_t, kBleuOrder> totals{};  // hypothesis n-grams per order
  BleuStats& operator+=(const BleuStats& o);
};

struct BleuScore {
  double score = 0.0;  // 0-100
  std::array<std::int64_t, kBleuOrder> counts{};
  std::array<std::int64_t, kBleuOrder> totals{};
  std::array<double, kBleuOrder> precisions{};  // percent
  double bp = 0.0;                              // brevity penalty
  std::int64_t sys_len = 0;
  std::int64_t ref_len = 0;
};

// Statistics of one pair (13a, case-sensitive, one reference).
BleuStats bleu_stats(std::string_view hypothesis, std::string_view reference);

// sacrebleu BLEU.compute_bleu with smooth_method='exp'. `effective_order` is what
// sentence_bleu uses (true) and corpus_bleu does not (false).
BleuScore compute_bleu(const BleuStats& stats, bool effective_order);

// sacrebleu.sentence_bleu(hyp, [ref]) with its defaults.
BleuScore sentence_bleu(std::string_view hypothesis, std::string_view reference);

// sacrebleu.corpus_bleu(hyps, [refs]) with its defaults; the spans must have equal length.
BleuScore corpus_bleu(std::span<const std::string> hypotheses,
                      std::span<const std::string> references);

}  // namespace assay::scoring
