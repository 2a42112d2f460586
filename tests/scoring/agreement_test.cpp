// Cohen's kappa and Krippendorff's alpha against published worked examples and hand-computed
// small cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "scoring/agreement.h"

namespace assay::scoring {
namespace {

constexpr double kNa = std::numeric_limits<double>::quiet_NaN();

// Wikipedia, "Cohen's kappa", worked example: 50 proposals, both readers Yes 20, A Yes / B No 5,
// A No / B Yes 10, both No 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
TEST(AgreementTest, CohenKappaPublishedExample) {
  std::vector<double> a, b;
  auto add = [&](int count, double x, double y) {
    for (int i = 0; i < count; ++i) {
      a.push_back(x);
      b.push_back(y);
    }
  };
  add(20, 1, 1);
  add(5, 1, 0);
  add(10, 0, 1);
  add(15, 0, 0);
  EXPECT_NEAR(*cohen_kappa(a, b, KappaWeights::kNone), 0.4, 1e-12);
  // Two categories: quadratic weights are the plain weights.
  EXPECT_NEAR(*cohen_kappa(a, b, KappaWeights::kQuadratic), 0.4, 1e-12);
}

// By hand: a = (1, 2, 3), b = (1, 3, 3). Joint 1/3 each on (1,1), (2,3), (3,3); marginals a:
// 1/3, 1/3, 1/3, b: 1/3, 0, 2/3. Unweighted: observed disagreement 1/3, expected
// 1 - (1/9 + 0 + 2/9) = 2/3, kappa = 0.5. Quadratic: observed 1/3 * 1, expected
// 8/9 + 1/9 + 2/9 + 4/9 = 5/3, kappa = 1 - 1/5 = 0.8.
TEST(AgreementTest, CohenKappaHandComputed) {
  const std::vector<double> a = {1, 2, 3, kNa}, b = {1, 3, 3, 2};  // the NaN pair is left out
  EXPECT_NEAR(*cohen_kappa(a, b, KappaWeights::kNone), 0.5, 1e-12);
  EXPECT_NEAR(*cohen_kappa(a, b, KappaWeights::kQuadratic), 0.8, 1e-12);
}

// Fleiss & Cohen (1973): quadratic-weighted kappa equals
// 2 cov(a, b) / (var(a) + var(b) + (mean(a) - mean(b))^2) with population moments. Checked on a
// 1-10 scale (MT-Bench ratings) with 40 deterministic pairs.
TEST(AgreementTest, QuadraticKappaEqualsFleissCohenMomentForm) {
  std::vector<double> a, b;
  for (int i = 0; i < 40; ++i) {
    a.push_back(1 + (i * 7) % 10);
    b.push_back(std::min(10, std::max(1, static_cast<int>(a.back()) + (i % 5) - 2)));
  }
  double ma = 0, mb = 0;
  for (int i = 0; i < 40; ++i) {
    ma += a[i] / 40;
    mb += b[i] / 40;
  }
  double va = 0, vb = 0, cov = 0;
  for (int i = 0; i < 40; ++i) {
    va += (a[i] - ma) * (a[i] - ma) / 40;
    vb += (b[i] - mb) * (b[i] - mb) / 40;
    cov += (a[i] - ma) * (b[i] - mb) / 40;
  }
  const double expected = 2 * cov / (va + vb + (ma - mb) * (ma - mb));
  EXPECT_NEAR(*cohen_kappa(a, b, KappaWeights::kQuadratic), expected, 1e-12);
  EXPECT_GT(expected, 0.8);  // close ratings: high agreement
}

TEST(AgreementTest, CohenKappaPerfectAndUndefined) {
  const std::vector<double> a = {1, 2, 3, 1}, b = {1, 2, 3, 1};
  EXPECT_NEAR(*cohen_kappa(a, b, KappaWeights::kQuadratic), 1.0, 1e-12);
  const std::vector<double> c = {2, 2, 2}, d = {2, 2, 2};  // no expected disagreement
  EXPECT_FALSE(cohen_kappa(c, d, KappaWeights::kNone).has_value());
  EXPECT_FALSE(cohen_kappa(std::vector<double>{1}, std::vector<double>{1}, KappaWeights::kNone));
}

// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: four observers,
// twelve units, values 1-5 with missing data. Published: nominal 0.743, ordinal 0.815,
// interval 0.849.
TEST(AgreementTest, KrippendorffAlphaPublishedExample) {
  const std::vector<std::vector<double>> data = {
      {1, 2, 3, 3, 2, 1, 4, 1, 2, kNa, kNa, kNa},
      {1, 2, 3, 3, 2, 2, 4, 1, 2, 5, kNa, 3},
      {kNa, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, kNa},
      {1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, kNa},
  };
  EXPECT_NEAR(*krippendorff_alpha(data, AlphaMetric::kNominal), 0.743, 5e-4);
  EXPECT_NEAR(*krippendorff_alpha(data, AlphaMetric::kOrdinal), 0.815, 5e-4);
  EXPECT_NEAR(*krippendorff_alpha(data, AlphaMetric::kInterval), 0.849, 5e-4);
}

// By hand, two raters, units (1,1), (1,2), (2,2): coincidences o11 = 2, o12 = o21 = 1,
// o22 = 2; n1 = n2 = 3, n = 6. Nominal: alpha = 1 - 5 * 2 / (3 * 3 * 2) = 4/9.
TEST(AgreementTest, KrippendorffAlphaHandComputed) {
  const std::vector<std::vector<double>> data = {{1, 1, 2}, {1, 2, 2}};
  EXPECT_NEAR(*krippendorff_alpha(data, AlphaMetric::kNominal), 4.0 / 9.0, 1e-12);
  // Two values: ordinal delta^2 = (3 + 3 - 3)^2 = 9 for the one off-diagonal pair, and alpha
  // does not depend on the scale of delta, so it equals the nominal value.
  EXPECT_NEAR(*krippendorff_alpha(data, AlphaMetric::kOrdinal), 4.0 / 9.0, 1e-12);
  // Only one pairable value: undefined.
  EXPECT_FALSE(krippendorff_alpha({{1, kNa}, {kNa, 2}}, AlphaMetric::kNominal).has_value());
}

}  // namespace
}  // namespace assay::scoring
