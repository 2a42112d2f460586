// Aggregation of per-sample values: mean, standard error and a seeded percentile-bootstrap CI.
// The resampling is fully specified (mt19937_64 + Lemire's unbiased bounded draw), so a CI is
// reproducible across runs, machines and standard libraries.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace assay::scoring {

struct BootstrapOptions {
  int resamples = 1000;       // number of bootstrap resamples; 0 disables CIs
  std::uint64_t seed = 1234;  // RNG seed: the same seed and data give the same CI
  double confidence = 0.95;   // two-sided interval mass, in (0, 1)
};

struct MeanSummary {
  double mean = 0.0;
  std::size_t n = 0;     // number of values (NaN values are skipped and not counted)
  double stderr_ = 0.0;  // sample standard deviation / sqrt(n); 0 when n < 2
  double ci_low = 0.0;   // percentile bootstrap bounds; equal to mean when resamples == 0 or n < 2
  double ci_high = 0.0;
};

// Uniform integer in [0, bound) from `rng` (Lemire's method with rejection; bound > 0).
std::uint64_t bounded_draw(std::mt19937_64& rng, std::uint64_t bound);

// Resample index sets for a bootstrap over n samples: resamples × n indices, drawn in a fixed
// order from `seed`. Every metric of a run uses the same sets, so their CIs are coherent.
std::vector<std::vector<std::uint32_t>> bootstrap_indices(std::size_t n,
                                                          const BootstrapOptions& opt);

// Quantile with linear interpolation between order statistics (numpy's default); `sorted` must
// be sorted ascending and non-empty; q in [0, 1].
double quantile_sorted(std::span<const double> sorted, double q);

// Mean, standard error and bootstrap CI of `values` (NaN entries are ignored).
MeanSummary summarize_mean(std::span<const double> values, const BootstrapOptions& opt);

}  // namespace assay::scoring
