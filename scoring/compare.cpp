#include "scoring/compare.h"

namespace assay::scoring {

Interval percentile_interval(std::vector<double>& scores, double confidence) {
  ASSAY_CHECK(!scores.empty());
  std::sort(scores.begin(), scores.end());
  double alpha = 1.0 - confidence;
  return {quantile_sorted(scores, alpha / 2), quantile_sorted(scores, 1.0 - alpha / 2)};
}

void finish_paired(PairedComparison& out, std::vector<double>& deltas, double confidence) {
  if (deltas.empty()) {
    out.ci_low = out.ci_high = out.delta;
    out.p_value = 1.0;
    return;
  }
  std::size_t against = 0;
  for (double d : deltas) {
    if (out.delta == 0.0 || d == 0.0 || (d > 0) != (out.delta > 0)) ++against;
  }
  out.p_value = (1.0 + static_cast<double>(against)) / (static_cast<double>(deltas.size()) + 1.0);
  Interval ci = percentile_interval(deltas, confidence);
  out.ci_low = ci.low;
  out.ci_high = ci.high;
}

PairedComparison paired_bootstrap_mean(std::span<const double> a, std::span<const double> b,
                                       const BootstrapOptions& opt) {
  if (a.size() != b.size()) {
    throw_invalid("paired bootstrap: systems have " + std::to_string(a.size()) + " and " +
                  std::to_string(b.size()) + " samples; they must be scored on the same samples");
  }
  std::vector<double> va, vb;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) continue;
    va.push_back(a[i]);
    vb.push_back(b[i]);
  }
  PairedComparison out;
  out.n = va.size();
  std::vector<double> deltas;
  if (va.empty()) {
    finish_paired(out, deltas, opt.confidence);
    return out;
  }
  double sa = 0.0, sb = 0.0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    sa += va[i];
    sb += vb[i];
  }
  const auto n = static_cast<double>(va.size());
  out.score_a = sa / n;
  out.score_b = sb / n;
  out.delta = out.score_b - out.score_a;
  if (opt.resamples > 0 && va.size() >= 2) {
    auto sets = bootstrap_indices(va.size(), opt);
    deltas.resize(sets.size());
    for (std::size_t k = 0; k < sets.size(); ++k) {
      double da = 0.0, db = 0.0;
      for (auto i : sets[k]) {
        da += va[i];
        db += vb[i];
      }
      deltas[k] = db / n - da / n;
    }
  }
  finish_paired(out, deltas, opt.confidence);
  return out;
}

}  // namespace assay::scoring
