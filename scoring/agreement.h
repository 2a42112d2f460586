// Agreement between raters who scored the same items (judges with each other, a judge with its
// own repeats, a judge with people): Cohen's kappa (plain or quadratic-weighted) for two raters
// and Krippendorff's alpha (nominal, ordinal or interval) for any number, with missing values.
#pragma once

#include <optional>
#include <span>
#include <vector>

namespace assay::scoring {

enum class KappaWeights {
  kNone,       // Cohen (1960): a pair agrees only when both values are equal
  kQuadratic,  // Cohen (1968) weighted kappa, disagreement weight (v_i - v_j)^2 (ordinal scales)
};

// Cohen's kappa of raters `a` and `b` (a[i], b[i] rate item i; a.size() == b.size()). An item
// where either value is NaN is left out. The categories are the distinct values seen; quadratic
// weights use the values themselves, so a 1-10 scale needs no table. kappa = 1 - sum(w*o) /
// sum(w*e), o the observed joint proportions, e the product of the marginals. Returns nullopt
// when fewer than 2 items remain or the expected disagreement is 0 (both raters constant).
std::optional<double> cohen_kappa(std::span<const double> a, std::span<const double> b,
                                  KappaWeights weights);

enum class AlphaMetric {
  kNominal,   // delta^2 = 0 when equal, 1 otherwise
  kOrdinal,   // delta^2 = (sum of n_g for g from c to k - (n_c + n_k) / 2)^2, n_g value counts
  kInterval,  // delta^2 = (c - k)^2
};

// Krippendorff's alpha over reliability data ratings[rater][unit] (every row the same length;
// NaN = that rater gave no value for that unit). Units with fewer than two values are not
// pairable and are left out. alpha = 1 - (n - 1) * sum_ck o_ck delta^2_ck / sum_ck n_c n_k
// delta^2_ck over the coincidence matrix o (Krippendorff, "Computing Krippendorff's
// Alpha-Reliability", 2011). Returns nullopt when fewer than 2 pairable values remain or the
// expected disagreement is 0 (every value the same).
std::optional<double> krippendorff_alpha(const std::vector<std::vector<double>>& ratings,
                                         AlphaMetric metric);

}  // namespace assay::scoring
