// Prediction-powered inference of a mean (Angelopoulos et al., "Prediction-powered inference",
// Science 2023): the mean a person would give, estimated from a judge's scores on every sample
// and human labels on a few, with a confidence interval that stays valid however biased the
// judge is.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

namespace assay::scoring {

struct PpiMean {
  double mean = 0;        // judge mean over all N + mean rectifier (human - judge) over the n
  double judge_mean = 0;  // the raw judge mean over all N
  double rectifier = 0;   // mean of (human - judge) over the labelled samples
  double stderr_ = 0;     // sqrt(var(judge)/N + var(rectifier)/n), sample variances (ddof = 1)
  double ci_low = 0;      // mean -/+ z * stderr, z the normal quantile of (1 + confidence) / 2
  double ci_high = 0;
  std::size_t n_all = 0;       // N: samples with a judge score
  std::size_t n_labelled = 0;  // n: samples with both a judge score and a human label
};

// `judge_all`: the judge's score of every sample (NaN: none). `judge_labelled[i]` and
// `human_labelled[i]`: the judge's and the person's score of labelled sample i (pairs with a NaN
// are left out). Returns nullopt when N < 2 or n < 2 (no variance to estimate).
std::optional<PpiMean> ppi_mean(std::span<const double> judge_all,
                                std::span<const double> judge_labelled,
                                std::span<const double> human_labelled, double confidence);

// The standard normal quantile Phi^-1(p), p in (0, 1), to double precision.
double normal_quantile(double p);

}  // namespace assay::scoring
