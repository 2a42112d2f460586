#include "scoring/agreement.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace assay::scoring {

namespace {

// Sorted distinct values of `values` (NaN skipped) and the index of a value among them.
struct Categories {
  std::vector<double> values;
  size_t index(double v) const {
    return static_cast<size_t>(std::lower_bound(values.begin(), values.end(), v) - values.begin());
  }
};

Categories categories_of(const std::vector<double>& all) {
  Categories c;
  for (double v : all) {
    if (!std::isnan(v)) c.values.push_back(v);
  }
  std::sort(c.values.begin(), c.values.end());
  c.values.erase(std::unique(c.values.begin(), c.values.end()), c.values.end());
  return c;
}

}  // namespace

std::optional<double> cohen_kappa(std::span<const double> a, std::span<const double> b,
                                  KappaWeights weights) {
  ASSAY_CHECK(a.size() == b.size());
  std::vector<double> pooled;
  std::vector<std::pair<double, double>> pairs;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) continue;
    pairs.emplace_back(a[i], b[i]);
    pooled.push_back(a[i]);
    pooled.push_back(b[i]);
  }
  if (pairs.size() < 2) return std::nullopt;
  const Categories cats = categories_of(pooled);
  const size_t k = cats.values.size();
  std::vector<double> joint(k * k, 0.0), row(k, 0.0), col(k, 0.0);
  const double n = static_cast<double>(pairs.size());
  for (const auto& [x, y] : pairs) {
    const size_t i = cats.index(x), j = cats.index(y);
    joint[i * k + j] += 1.0 / n;
    row[i] += 1.0 / n;
    col[j] += 1.0 / n;
  }
  double observed = 0, expected = 0;
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < k; ++j) {
      const double d = cats.values[i] - cats.values[j];
      const double w = weights == KappaWeights::kQuadratic ? d * d : (i == j ? 0.0 : 1.0);
      observed += w * joint[i * k + j];
      expected += w * row[i] * col[j];
    }
  }
  if (expected <= 0) return std::nullopt;
  return 1.0 - observed / expected;
}

std::optional<double> krippendorff_alpha(const std::vector<std::vector<double>>& ratings,
                                         AlphaMetric metric) {
  if (ratings.empty()) return std::nullopt;
  const size_t units = ratings.front().size();
  std::vector<double> pooled;
  for (const auto& r : ratings) {
    ASSAY_CHECK(r.size() == units);
    pooled.insert(pooled.end(), r.begin(), r.end());
  }
  const Categories cats = categories_of(pooled);
  const size_t k = cats.values.size();
  // Coincidence matrix: each ordered pair of values within a unit adds 1 / (m_u - 1).
  std::vector<double> coincidence(k * k, 0.0);
  std::vector<size_t> in_unit;
  for (size_t u = 0; u < units; ++u) {
    in_unit.clear();
    for (const auto& r : ratings) {
      if (!std::isnan(r[u])) in_unit.push_back(cats.index(r[u]));
    }
    const size_t m = in_unit.size();
    if (m < 2) continue;
    for (size_t x = 0; x < m; ++x) {
      for (size_t y = 0; y < m; ++y) {
        if (x != y) coincidence[in_unit[x] * k + in_unit[y]] += 1.0 / static_cast<double>(m - 1);
      }
    }
  }
  std::vector<double> marginal(k, 0.0);
  double n = 0;
  for (size_t c = 0; c < k; ++c) {
    for (size_t j = 0; j < k; ++j) marginal[c] += coincidence[c * k + j];
    n += marginal[c];
  }
  if (n < 2) return std::nullopt;
  auto delta2 = [&](size_t c, size_t j) -> double {
    if (c == j) return 0.0;
    switch (metric) {
      case AlphaMetric::kNominal:
        return 1.0;
      case AlphaMetric::kInterval: {
        const double d = cats.values[c] - cats.values[j];
        return d * d;
      }
      case AlphaMetric::kOrdinal: {
        const size_t lo = std::min(c, j), hi = std::max(c, j);
        double s = 0;
        for (size_t g = lo; g <= hi; ++g) s += marginal[g];
        s -= (marginal[lo] + marginal[hi]) / 2.0;
        return s * s;
      }
    }
    return 0.0;
  };
  double observed = 0, expected = 0;
  for (size_t c = 0; c < k; ++c) {
    for (size_t j = 0; j < k; ++j) {
      const double d2 = delta2(c, j);
      observed += coincidence[c * k + j] * d2;
      expected += marginal[c] * marginal[j] * d2;
    }
  }
  if (expected <= 0) return std::nullopt;
  return 1.0 - (n - 1.0) * observed / expected;
}

}  // namespace assay::scoring
