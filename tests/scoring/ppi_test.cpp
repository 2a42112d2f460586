// Prediction-powered mean and CI (Angelopoulos et al. 2023) against a hand computation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "scoring/ppi.h"

namespace assay::scoring {
namespace {

TEST(PpiTest, NormalQuantile) {
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-12);  // tables / scipy.stats.norm
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-12);
  EXPECT_NEAR(normal_quantile(0.05), -1.6448536269514729, 1e-12);
}

// By hand. Judge scores of N = 4 samples: 1, 2, 3, 2 -> mean 2, sample variance
// (1 + 0 + 1 + 0) / 3 = 2/3. Labelled n = 3: judge 1, 2, 3 vs human 2, 2, 4 -> rectifier
// 1, 0, 1, mean 2/3, sample variance (1/9 + 4/9 + 1/9) / 2 = 1/3. PPI mean = 2 + 2/3;
// stderr = sqrt((2/3) / 4 + (1/3) / 3) = sqrt(1/6 + 1/9) = sqrt(5/18).
TEST(PpiTest, HandComputed) {
  const double na = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> all = {1, 2, 3, 2, na};
  const std::vector<double> judge = {1, 2, 3, 3}, human = {2, 2, 4, na};
  const auto r = ppi_mean(all, judge, human, 0.95);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->n_all, 4u);
  EXPECT_EQ(r->n_labelled, 3u);
  EXPECT_NEAR(r->judge_mean, 2.0, 1e-12);
  EXPECT_NEAR(r->rectifier, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(r->mean, 8.0 / 3.0, 1e-12);
  const double se = std::sqrt(5.0 / 18.0);
  EXPECT_NEAR(r->stderr_, se, 1e-12);
  EXPECT_NEAR(r->ci_low, 8.0 / 3.0 - 1.959963984540054 * se, 1e-9);
  EXPECT_NEAR(r->ci_high, 8.0 / 3.0 + 1.959963984540054 * se, 1e-9);
}

TEST(PpiTest, TooFewLabels) {
  const std::vector<double> all = {1, 2, 3}, judge = {1}, human = {2};
  EXPECT_FALSE(ppi_mean(all, judge, human, 0.95).has_value());
}

}  // namespace
}  // namespace assay::scoring
