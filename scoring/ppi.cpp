#include "scoring/ppi.h"

#include <cmath>
#include <vector>

#include "core/error.h"

namespace assay::scoring {

namespace {

struct MeanVar {
  double mean = 0, var = 0;
  std::size_t n = 0;
};

MeanVar mean_var(const std::vector<double>& v) {
  MeanVar m;
  m.n = v.size();
  if (m.n == 0) return m;
  for (double x : v) m.mean += x;
  m.mean /= static_cast<double>(m.n);
  if (m.n < 2) return m;
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(m.n - 1);
  return m;
}

}  // namespace

double normal_quantile(double p) {
  ASSAY_CHECK(p > 0 && p < 1);
  // Bisection on Phi(x) = erfc(-x / sqrt 2) / 2, then two Newton steps: exact to rounding.
  double lo = -40, hi = 40;
  for (int it = 0; it < 200 && hi - lo > 1e-15; ++it) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  double x = (lo + hi) / 2;
  for (int it = 0; it < 2; ++it) {
    const double pdf = std::exp(-x * x / 2) / std::sqrt(2 * M_PI);
    if (pdf <= 0) break;
    x -= (0.5 * std::erfc(-x / std::sqrt(2.0)) - p) / pdf;
  }
  return x;
}

std::optional<PpiMean> ppi_mean(std::span<const double> judge_all,
                                std::span<const double> judge_labelled,
                                std::span<const double> human_labelled, double confidence) {
  ASSAY_CHECK(judge_labelled.size() == human_labelled.size());
  std::vector<double> f, rect;
  for (double x : judge_all) {
    if (!std::isnan(x)) f.push_back(x);
  }
  for (size_t i = 0; i < judge_labelled.size(); ++i) {
    if (std::isnan(judge_labelled[i]) || std::isnan(human_labelled[i])) continue;
    rect.push_back(human_labelled[i] - judge_labelled[i]);
  }
  if (f.size() < 2 || rect.size() < 2) return std::nullopt;
  const MeanVar mf = mean_var(f), mr = mean_var(rect);
  PpiMean out;
  out.n_all = mf.n;
  out.n_labelled = mr.n;
  out.judge_mean = mf.mean;
  out.rectifier = mr.mean;
  out.mean = mf.mean + mr.mean;
  out.stderr_ = std::sqrt(mf.var / static_cast<double>(mf.n) + mr.var / static_cast<double>(mr.n));
  const double z = normal_quantile((1 + confidence) / 2);
  out.ci_low = out.mean - z * out.stderr_;
  out.ci_high = out.mean + z * out.stderr_;
  return out;
}

}  // namespace assay::scoring
