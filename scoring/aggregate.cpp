#include "scoring/aggregate.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace assay::scoring {

std::uint64_t bounded_draw(std::mt19937_64& rng, std::uint64_t bound) {
  ASSAY_CHECK(bound > 0);
  unsigned __int128 m = static_cast<unsigned __int128>(rng()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(rng()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::vector<std::vector<std::uint32_t>> bootstrap_indices(std::size_t n,
                                                          const BootstrapOptions& opt) {
  std::vector<std::vector<std::uint32_t>> sets;
  if (n == 0 || opt.resamples <= 0) return sets;
  std::mt19937_64 rng(opt.seed);
  sets.resize(static_cast<size_t>(opt.resamples));
  for (auto& set : sets) {
    set.resize(n);
    for (auto& idx : set) idx = static_cast<std::uint32_t>(bounded_draw(rng, n));
  }
  return sets;
}

double quantile_sorted(std::span<const double> sorted, double q) {
  ASSAY_CHECK(!sorted.empty());
  double pos = q * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

MeanSummary summarize_mean(std::span<const double> values, const BootstrapOptions& opt) {
  std::vector<double> v;
  v.reserve(values.size());
  for (double x : values) {
    if (!std::isnan(x)) v.push_back(x);
  }
  MeanSummary out;
  out.n = v.size();
  if (v.empty()) return out;
  double sum = 0.0;
  for (double x : v) sum += x;
  out.mean = sum / static_cast<double>(v.size());
  out.ci_low = out.ci_high = out.mean;
  if (v.size() < 2) return out;
  double ss = 0.0;
  for (double x : v) ss += (x - out.mean) * (x - out.mean);
  out.stderr_ = std::sqrt(ss / static_cast<double>(v.size() - 1)) / std::sqrt(double(v.size()));
  if (opt.resamples <= 0) return out;
  auto sets = bootstrap_indices(v.size(), opt);
  std::vector<double> means;
  means.reserve(sets.size());
  for (const auto& set : sets) {
    double s = 0.0;
    for (auto idx : set) s += v[idx];
    means.push_back(s / static_cast<double>(set.size()));
  }
  std::sort(means.begin(), means.end());
  double alpha = 1.0 - opt.confidence;
  out.ci_low = quantile_sorted(means, alpha / 2);
  out.ci_high = quantile_sorted(means, 1.0 - alpha / 2);
  return out;
}

}  // namespace assay::scoring
