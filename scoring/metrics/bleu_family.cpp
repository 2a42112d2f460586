// sentence_bleu per sample and corpus BLEU from summed n-gram statistics — scoring/bleu.h.
#include "scoring/bleu.h"
#include "scoring/metric_registry.h"

namespace assay::scoring {
namespace {

// Statistics as doubles: sys_len, ref_len, counts[4], totals[4].
constexpr std::size_t kWidth = 2 + 2 * kBleuOrder;

BleuStats from_doubles(const double* s) {
  BleuStats stats;
  stats.sys_len = static_cast<std::int64_t>(s[0]);
  stats.ref_len = static_cast<std::int64_t>(s[1]);
  for (int o = 0; o < kBleuOrder; ++o) {
    stats.counts[o] = static_cast<std::int64_t>(s[2 + o]);
    stats.totals[o] = static_cast<std::int64_t>(s[2 + kBleuOrder + o]);
  }
  return stats;
}

}  // namespace

MetricFamily bleu_family() {
  MetricFamily f;
  f.name = "sentence_bleu";
  f.columns = {{"sentence_bleu", true, {"bleu"}, true}};
  f.compute = [](std::string_view pred, std::string_view ref, const void*, double* out, double* s) {
    BleuStats stats = bleu_stats(pred, ref);
    out[0] = compute_bleu(stats, true).score;
    if (!s) return;
    s[0] = static_cast<double>(stats.sys_len);
    s[1] = static_cast<double>(stats.ref_len);
    for (int o = 0; o < kBleuOrder; ++o) {
      s[2 + o] = static_cast<double>(stats.counts[o]);
      s[2 + kBleuOrder + o] = static_cast<double>(stats.totals[o]);
    }
  };
  CorpusForm corpus;
  corpus.name = "bleu";
  corpus.width = kWidth;
  corpus.score = [](const double* s) { return compute_bleu(from_doubles(s), false).score; };
  corpus.details = [](const double* s, std::size_t n, std::size_t) -> nlohmann::json {
    BleuScore b = compute_bleu(from_doubles(s), false);
    return {{"score", b.score},     {"counts", b.counts},
            {"totals", b.totals},   {"precisions", b.precisions},
            {"bp", b.bp},           {"sys_len", b.sys_len},
            {"ref_len", b.ref_len}, {"n", n}};
  };
  f.corpus = corpus;
  return f;
}

}  // namespace assay::scoring
