// exact_match, quasi_exact_match and the SQuAD v1.1 family (squad_em, squad_f1/p/r from one
// token overlap) — scoring/squad.h.
#include <memory>

#include "scoring/metric_registry.h"
#include "scoring/squad.h"

namespace assay::scoring {

MetricFamily exact_match_family() {
  return one_column_family<exact_match>("exact_match");
}

MetricFamily quasi_exact_match_family() {
  return one_column_family<quasi_exact_match>("quasi_exact_match");
}

namespace {

struct SquadNeeds {
  bool em = false;
  bool prf = false;  // any of f1, p, r
};

}  // namespace

MetricFamily squad_family() {
  MetricFamily f;
  f.name = "squad";
  f.columns = {{"squad_em", true, {"squad"}, true},
               {"squad_f1", true, {"squad"}, true},
               {"squad_p", true, {}, true},
               {"squad_r", true, {}, true}};
  f.prepare = [](const nlohmann::json&, const std::vector<bool>& wanted) -> MetricState {
    return std::make_shared<const SquadNeeds>(
        SquadNeeds{wanted[0], wanted[1] || wanted[2] || wanted[3]});
  };
  f.compute = [](std::string_view pred, std::string_view ref, const void* state, double* out,
                 double*) {
    const auto& needs = *static_cast<const SquadNeeds*>(state);
    if (needs.em) out[0] = squad_exact_match(pred, ref);
    if (needs.prf) {
      TokenPrf prf = squad_token_prf(pred, ref);
      out[1] = prf.f1;
      out[2] = prf.precision;
      out[3] = prf.recall;
    }
  };
  return f;
}

}  // namespace assay::scoring
