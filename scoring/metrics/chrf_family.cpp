// chrF and chrF++ per sample and as corpus metrics from summed n-gram statistics — scoring/chrf.h.
#include "scoring/chrf.h"
#include "scoring/metric_registry.h"

namespace assay::scoring {
namespace {

// Statistics as doubles: [hyp, ref, match] per order, char orders then word orders.
template <int kWordOrder>
constexpr std::size_t kWidth = 3 * (kChrfCharOrder + kWordOrder);

template <int kWordOrder>
ChrfStats from_doubles(const double* s) {
  ChrfStats stats;
  stats.word_order = kWordOrder;
  for (std::size_t j = 0; j < kWidth<kWordOrder>; ++j) {
    stats.values[j] = static_cast<std::int64_t>(s[j]);
  }
  return stats;
}

template <int kWordOrder>
MetricFamily chrf_family_of(const char* name) {
  MetricFamily f;
  f.name = name;
  f.columns = {{name, true, {"chrf"}, true}};
  f.compute = [](std::string_view pred, std::string_view ref, const void*, double* out, double* s) {
    ChrfStats stats = chrf_stats(pred, ref, kWordOrder);
    out[0] = chrf_score(stats);
    if (!s) return;
    for (std::size_t j = 0; j < kWidth<kWordOrder>; ++j)
      s[j] = static_cast<double>(stats.values[j]);
  };
  CorpusForm corpus;
  corpus.name = name;
  corpus.width = kWidth<kWordOrder>;
  corpus.score = [](const double* s) { return chrf_score(from_doubles<kWordOrder>(s)); };
  corpus.details = [](const double* s, std::size_t n, std::size_t) -> nlohmann::json {
    return {{"score", chrf_score(from_doubles<kWordOrder>(s))}, {"n", n}};
  };
  f.corpus = corpus;
  return f;
}

}  // namespace

MetricFamily chrf_family() {
  return chrf_family_of<0>("chrf");
}

MetricFamily chrf_pp_family() {
  return chrf_family_of<2>("chrf_pp");
}

}  // namespace assay::scoring
