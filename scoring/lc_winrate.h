// AlpacaEval 2's length-controlled win rate (Dubois et al. 2024, "Length-Controlled AlpacaEval")
// for one model A against one baseline B: a logistic regression of the judge's preference on the
// length difference, read off at zero length difference.
//
// Exactly what is implemented (AlpacaEval's "length_controlled_minimal" GLM without instruction
// difficulty, which needs AlpacaEval's own 805 instructions):
//   y_i  = 1 when A won, 0.5 for a tie, 0 when B won (AlpacaEval's soft preference)
//   d_i  = len(A_i) - len(B_i) in characters (Unicode code points, like Python's str.len)
//   x_i  = tanh(d_i / sd(d)), sd the sample standard deviation (ddof 1); x_i = 0 when sd = 0
//   p_i  = sigmoid(t0 + t1 * x_i)
//   (t0, t1) minimise  sum_i -[y_i log p_i + (1 - y_i) log(1 - p_i)] + (t0^2 + t1^2) / (2 C)
//        with C = 100 (AlpacaEval's C, but an L2 penalty so Newton's method applies; it keeps
//        the fit finite when the preferences are separable)
//   LC   = sigmoid(t0), the predicted preference at d = 0 (the same for every sample, so it is
//          also AlpacaEval's mean of the predicted preferences).
#pragma once

#include <optional>
#include <span>

#include "scoring/aggregate.h"

namespace assay::scoring {

struct LcFit {
  double win_rate = 0;     // sigmoid(t0), in [0, 1]
  double intercept = 0;    // t0
  double length_coef = 0;  // t1: > 0 means the judge prefers the longer answer
  std::size_t n = 0;       // samples used (preference not NaN)
};

inline constexpr double kLcInverseRegularisation = 100.0;  // C above

// Fits the GLM above. preference[i] in {0, 0.5, 1} or NaN (left out); len_a/len_b in characters.
// Returns nullopt when fewer than 2 samples have a preference.
std::optional<LcFit> lc_win_rate(std::span<const double> preference, std::span<const double> len_a,
                                 std::span<const double> len_b);

// Percentile CI of the LC win rate over the run's bootstrap draws (the fit, sd included, redone
// on each resample; a resample with fewer than 2 preferences is skipped). {lc, lc} when no
// resample is left. `point` is lc_win_rate over all samples.
Interval lc_win_rate_ci(std::span<const double> preference, std::span<const double> len_a,
                        std::span<const double> len_b, const BootstrapDraws& draws, double point);

}  // namespace assay::scoring
