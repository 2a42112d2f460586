// ROUGE-1/2/L/Lsum precision, recall and F, plain and stemmed: 24 columns from at most two
// passes per sample (one without, one with the Porter stemmer) — scoring/rouge.h.
#include <array>
#include <memory>

#include "scoring/metric_registry.h"
#include "scoring/rouge.h"

namespace assay::scoring {
namespace {

struct RougeColumn {
  bool stem;
  RougePrf RougeScores::*type;
  double RougePrf::*value;
};

// The columns in canonical order: the F of each type (plain, then stemmed), then P and R plain,
// then P and R stemmed. Names are rouge{1,2,L,Lsum}_{f,p,r}[_stem].
const std::vector<RougeColumn>& rouge_columns() {
  static const std::vector<RougeColumn> columns = [] {
    const std::array<RougePrf RougeScores::*, 4> types = {
        &RougeScores::rouge1, &RougeScores::rouge2, &RougeScores::rougeL, &RougeScores::rougeLsum};
    const std::pair<bool, double RougePrf::*> blocks[] = {
        {false, &RougePrf::fmeasure}, {true, &RougePrf::fmeasure},  {false, &RougePrf::precision},
        {false, &RougePrf::recall},   {true, &RougePrf::precision}, {true, &RougePrf::recall}};
    std::vector<RougeColumn> out;
    for (const auto& [stem, value] : blocks) {
      for (auto type : types) out.push_back({stem, type, value});
    }
    return out;
  }();
  return columns;
}

std::vector<MetricColumn> rouge_metric_columns() {
  const char* types[] = {"rouge1", "rouge2", "rougeL", "rougeLsum"};
  std::vector<MetricColumn> out;
  std::size_t idx = 0;
  for (const auto& c : rouge_columns()) {
    const char* which = c.value == &RougePrf::fmeasure    ? "_f"
                        : c.value == &RougePrf::precision ? "_p"
                                                          : "_r";
    std::vector<std::string> groups;
    if (c.value == &RougePrf::fmeasure) groups = {c.stem ? "rouge_stem" : "rouge"};
    out.push_back(
        {std::string(types[idx++ % 4]) + which + (c.stem ? "_stem" : ""), true, groups, true});
  }
  return out;
}

struct RougeNeeds {
  bool plain = false;
  bool stem = false;
};

}  // namespace

MetricFamily rouge_family() {
  MetricFamily f;
  f.name = "rouge";
  f.columns = rouge_metric_columns();
  f.prepare = [](const nlohmann::json&, const std::vector<bool>& wanted) -> MetricState {
    RougeNeeds needs;
    for (std::size_t c = 0; c < wanted.size(); ++c) {
      if (wanted[c]) (rouge_columns()[c].stem ? needs.stem : needs.plain) = true;
    }
    return std::make_shared<const RougeNeeds>(needs);
  };
  f.compute = [](std::string_view pred, std::string_view ref, const void* state, double* out,
                 double*) {
    const auto& needs = *static_cast<const RougeNeeds*>(state);
    RougeScores plain, stem;
    if (needs.plain) plain = rouge_scores(pred, ref, false);
    if (needs.stem) stem = rouge_scores(pred, ref, true);
    const auto& columns = rouge_columns();
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const RougeScores& s = columns[c].stem ? stem : plain;
      out[c] = (s.*columns[c].type).*columns[c].value;
    }
  };
  return f;
}

}  // namespace assay::scoring
