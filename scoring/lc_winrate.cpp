#include "scoring/lc_winrate.h"

#include <cmath>
#include <vector>

#include "core/error.h"

namespace assay::scoring {

namespace {

double sigmoid(double z) {
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}

// Newton's method on the penalised log loss of the header; y and d have the same length >= 2.
LcFit fit(const std::vector<double>& y, const std::vector<double>& d) {
  const size_t n = y.size();
  double mean = 0;
  for (double v : d) mean += v;
  mean /= static_cast<double>(n);
  double ss = 0;
  for (double v : d) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / static_cast<double>(n - 1));
  std::vector<double> x(n, 0.0);
  if (sd > 0) {
    for (size_t i = 0; i < n; ++i) x[i] = std::tanh(d[i] / sd);
  }
  const double lambda = 1.0 / kLcInverseRegularisation;
  double t0 = 0, t1 = 0;
  for (int it = 0; it < 100; ++it) {
    double g0 = lambda * t0, g1 = lambda * t1;
    double h00 = lambda, h01 = 0, h11 = lambda;
    for (size_t i = 0; i < n; ++i) {
      const double p = sigmoid(t0 + t1 * x[i]);
      const double r = p - y[i], w = p * (1 - p);
      g0 += r;
      g1 += r * x[i];
      h00 += w;
      h01 += w * x[i];
      h11 += w * x[i] * x[i];
    }
    const double det = h00 * h11 - h01 * h01;  // > 0: the penalty makes H positive definite
    const double s0 = (h11 * g0 - h01 * g1) / det, s1 = (h00 * g1 - h01 * g0) / det;
    t0 -= s0;
    t1 -= s1;
    if (std::abs(s0) + std::abs(s1) < 1e-12) break;
  }
  return {sigmoid(t0), t0, t1, n};
}

}  // namespace

std::optional<LcFit> lc_win_rate(std::span<const double> preference, std::span<const double> len_a,
                                 std::span<const double> len_b) {
  ASSAY_CHECK(preference.size() == len_a.size() && preference.size() == len_b.size());
  std::vector<double> y, d;
  for (size_t i = 0; i < preference.size(); ++i) {
    if (std::isnan(preference[i])) continue;
    y.push_back(preference[i]);
    d.push_back(len_a[i] - len_b[i]);
  }
  if (y.size() < 2) return std::nullopt;
  return fit(y, d);
}

Interval lc_win_rate_ci(std::span<const double> preference, std::span<const double> len_a,
                        std::span<const double> len_b, const BootstrapDraws& draws, double point) {
  ASSAY_CHECK(draws.resamples() == 0 || draws.samples() == preference.size());
  std::vector<double> rates, y, d;
  for (int k = 0; k < draws.resamples(); ++k) {
    y.clear();
    d.clear();
    for (std::uint32_t idx : draws.resample(k)) {
      if (std::isnan(preference[idx])) continue;
      y.push_back(preference[idx]);
      d.push_back(len_a[idx] - len_b[idx]);
    }
    if (y.size() >= 2) rates.push_back(fit(y, d).win_rate);
  }
  if (rates.empty()) return {point, point};
  return percentile_interval(rates, draws.options().confidence);
}

}  // namespace assay::scoring
