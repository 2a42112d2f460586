// Aggregation of per-sample values: mean, standard error and a seeded percentile-bootstrap CI.
// The resample index sets are drawn once per run (BootstrapDraws) and every aggregate of that run
// (per-sample columns, judge criteria, corpus metrics) is computed over the same sets. The
// resampling is fully specified (mt19937_64 + Lemire's unbiased bounded draw), so a CI is
// reproducible across runs, machines and standard libraries.
#pragma once

#include <cstdint>
#include <functional>
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

// The resample index sets of one bootstrap over n samples, drawn once: mt19937_64(seed), then
// resample by resample, index by index, bounded_draw(rng, n). Empty (no resample) when n == 0 or
// resamples <= 0. Immutable; share it between threads freely.
class BootstrapDraws {
 public:
  BootstrapDraws() = default;
  BootstrapDraws(std::size_t n, const BootstrapOptions& options);

  std::size_t samples() const { return n_; }  // n: every index is in [0, n)
  int resamples() const { return resamples_; }
  const BootstrapOptions& options() const { return options_; }
  // The n indices of resample k (0 <= k < resamples()).
  std::span<const std::uint32_t> resample(int k) const {
    return {indices_.data() + static_cast<std::size_t>(k) * n_, n_};
  }

 private:
  std::size_t n_ = 0;
  int resamples_ = 0;
  BootstrapOptions options_;
  std::vector<std::uint32_t> indices_;  // [resample][draw]
};

// Draws the resample index sets for n samples (see BootstrapDraws).
BootstrapDraws make_bootstrap_draws(std::size_t n, const BootstrapOptions& options);

// The same sets as vectors (one per resample); kept for callers that index them directly.
std::vector<std::vector<std::uint32_t>> bootstrap_indices(std::size_t n,
                                                          const BootstrapOptions& opt);

// Quantile with linear interpolation between order statistics (numpy's default); `sorted` must
// be sorted ascending and non-empty; q in [0, 1].
double quantile_sorted(std::span<const double> sorted, double q);

// The resampling engine every aggregate uses. `rows` is row-major, `width` doubles per row;
// sample i of the draws (0 <= i < draws.samples()) is row `row_of_sample[i]`, or absent when that
// is -1 (an empty `row_of_sample` means sample i is row i). For each resample k, in parallel
// (oneTBB), the rows of its drawn samples are summed in draw order (absent samples skipped) and
// `visit(k, sums)` is called with `width` sums; visit must be thread-safe and must only write
// slots of its own k. Entries are added as they are: callers replace NaN by 0 and count presence
// in a column of their own.
void for_each_resample_sum(std::span<const double> rows, std::size_t width,
                           const BootstrapDraws& draws, std::span<const std::int32_t> row_of_sample,
                           const std::function<void(int k, const double* sums)>& visit);

// Mean, standard error and bootstrap CI of `values` (values.size() == draws.samples()); a NaN
// marks a sample without a value. The point estimate, n and stderr are over the non-NaN values;
// each resample's mean is the mean of the non-NaN values among its drawn indices, and a resample
// that drew none is skipped. CI = mean when fewer than 2 values or no resample is left.
MeanSummary summarize_mean(std::span<const double> values, const BootstrapDraws& draws);

// summarize_mean of many columns at once over the same draws, in one pass: `rows` is row-major
// [row][column] (`width` columns, NaN = absent), rows mapped to samples as in
// for_each_resample_sum. Returns one summary per column.
std::vector<MeanSummary> summarize_means(std::span<const double> rows, std::size_t width,
                                         const BootstrapDraws& draws,
                                         std::span<const std::int32_t> row_of_sample = {});

struct Interval {
  double low = 0.0;
  double high = 0.0;
};

// A corpus metric's per-sample sufficient statistics, type-erased: `width` doubles per row
// (row-major, the same rows as the columns they are aggregated with); a row holding a NaN is
// left out. `score` turns `width` summed statistics into the corpus score.
struct CorpusInput {
  std::span<const double> stats;
  std::size_t width = 0;
  std::function<double(const double* summed)> score;
};

struct Aggregates {
  std::vector<MeanSummary> columns;  // one per column, as summarize_means
  // One per corpus input: the percentile CI of its score over the resamples (a resample that
  // drew no row of it is skipped); {score(all), score(all)} with fewer than 2 rows or no
  // resample left.
  std::vector<Interval> corpus;
};

// Every aggregate of a run in one pass over the draws: each resample sums the drawn rows of the
// columns and of every corpus input together (one gather per drawn row). The columns and corpus
// inputs have the same rows, mapped to samples by `row_of_sample` as in for_each_resample_sum.
Aggregates aggregate_over_draws(std::span<const double> columns, std::size_t width,
                                std::span<const CorpusInput> corpus, const BootstrapDraws& draws,
                                std::span<const std::int32_t> row_of_sample = {});

// Percentile CI of `scores` (unsorted; sorted in place; non-empty).
Interval percentile_interval(std::vector<double>& scores, double confidence);

// summarize_mean over draws of its own: make_bootstrap_draws(values.size(), opt).
MeanSummary summarize_mean(std::span<const double> values, const BootstrapOptions& opt);

}  // namespace assay::scoring
