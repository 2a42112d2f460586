// TER per sample and corpus TER from summed edits and reference lengths — scoring/ter.h.
#include "scoring/metric_registry.h"
#include "scoring/ter.h"

namespace assay::scoring {

MetricFamily ter_family() {
  MetricFamily f;
  f.name = "ter";
  f.columns = {{"ter", false, {"ter"}, true}};
  f.compute = [](std::string_view pred, std::string_view ref, const void*, double* out, double* s) {
    TerStats stats = ter_stats(pred, ref);  // NaN edits beyond kTerMaxWords
    out[0] = ter_score(stats);
    if (!s) return;
    s[0] = stats.num_edits;
    s[1] = stats.ref_length;
  };
  CorpusForm corpus;
  corpus.name = "ter";
  corpus.width = 2;
  corpus.score = [](const double* s) { return ter_score(TerStats{s[0], s[1]}); };
  corpus.details = [](const double* s, std::size_t n, std::size_t not_computed) -> nlohmann::json {
    return {{"score", ter_score(TerStats{s[0], s[1]})},
            {"num_edits", s[0]},
            {"ref_length", s[1]},
            {"n", n},
            {"not_computed", not_computed}};
  };
  f.corpus = corpus;
  return f;
}

}  // namespace assay::scoring
