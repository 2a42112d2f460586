#include "scoring/scorer.h"

#include <algorithm>
#include <functional>
#include <map>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/error.h"
#include "core/suggest.h"
#include "scoring/squad.h"

namespace assay::scoring {
namespace {

using PairFn = std::function<double(const std::string&, const std::string&)>;

struct MetricDef {
  std::string name;
  PairFn fn;
};

const std::vector<MetricDef>& metric_defs() {
  static const std::vector<MetricDef> defs = {
      {"exact_match", [](const std::string& p, const std::string& r) { return exact_match(p, r); }},
      {"squad_em",
       [](const std::string& p, const std::string& r) { return squad_exact_match(p, r); }},
      {"squad_f1",
       [](const std::string& p, const std::string& r) { return squad_token_prf(p, r).f1; }},
  };
  return defs;
}

const std::map<std::string, std::vector<std::string>>& groups() {
  static const std::map<std::string, std::vector<std::string>> g = {
      {"squad", {"squad_em", "squad_f1"}},
      {"all", {"exact_match", "squad_em", "squad_f1"}},
  };
  return g;
}

}  // namespace

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& d : metric_defs()) n.push_back(d.name);
    return n;
  }();
  return names;
}

std::vector<std::string> known_groups() {
  std::vector<std::string> out;
  for (const auto& [name, members] : groups()) out.push_back(name);
  return out;
}

std::vector<std::string> resolve_metrics(const std::vector<MetricRequest>& requests) {
  std::vector<std::string> wanted;
  for (const auto& req : requests) {
    auto g = groups().find(req.name);
    if (g != groups().end()) {
      wanted.insert(wanted.end(), g->second.begin(), g->second.end());
      continue;
    }
    const auto& known = known_metrics();
    if (std::find(known.begin(), known.end(), req.name) == known.end()) {
      std::vector<std::string> all = known;
      for (const auto& name : known_groups()) all.push_back(name);
      throw_invalid("unknown metric '" + req.name + "'" + did_you_mean(req.name, all) +
                    "; known metrics: exact_match, squad_em, squad_f1; groups: squad, all");
    }
    wanted.push_back(req.name);
  }
  std::vector<std::string> out;
  for (const auto& name : known_metrics()) {
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) out.push_back(name);
  }
  return out;
}

ScoredDataset score_dataset(const std::vector<std::string>& predictions,
                            const std::vector<std::string>& references,
                            const std::vector<MetricRequest>& requests,
                            const BootstrapOptions& bootstrap) {
  ASSAY_CHECK(predictions.size() == references.size());
  ScoredDataset out;
  out.columns = resolve_metrics(requests);
  std::vector<const MetricDef*> defs;
  for (const auto& col : out.columns) {
    for (const auto& d : metric_defs()) {
      if (d.name == col) defs.push_back(&d);
    }
  }
  const size_t n = predictions.size();
  out.values.assign(n, std::vector<double>(defs.size(), 0.0));
  tbb::parallel_for(tbb::blocked_range<size_t>(0, n), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t i = r.begin(); i != r.end(); ++i) {
      for (size_t m = 0; m < defs.size(); ++m) {
        out.values[i][m] = defs[m]->fn(predictions[i], references[i]);
      }
    }
  });
  for (size_t m = 0; m < defs.size(); ++m) {
    std::vector<double> column(n);
    for (size_t i = 0; i < n; ++i) column[i] = out.values[i][m];
    MeanSummary s = summarize_mean(column, bootstrap);
    out.summary[out.columns[m]] = {{"mean", s.mean},     {"n", s.n},
                                   {"stderr", s.stderr_}, {"ci_low", s.ci_low},
                                   {"ci_high", s.ci_high}};
  }
  return out;
}

}  // namespace assay::scoring
