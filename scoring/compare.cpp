#include "scoring/compare.h"

#include <limits>

namespace assay::scoring {

void finish_paired(PairedComparison& out, std::vector<double>& deltas, double confidence) {
  if (deltas.empty()) {
    out.ci_low = out.ci_high = out.delta;
    out.p_value = 1.0;
    return;
  }
  std::size_t against = 0;
  for (double d : deltas) {
    if (out.delta == 0.0 || d == 0.0 || (d > 0) != (out.delta > 0)) ++against;
  }
  out.p_value = (1.0 + static_cast<double>(against)) / (static_cast<double>(deltas.size()) + 1.0);
  Interval ci = percentile_interval(deltas, confidence);
  out.ci_low = ci.low;
  out.ci_high = ci.high;
}

namespace {

void check_same_size(std::size_t a, std::size_t b) {
  if (a != b) {
    throw_invalid("paired bootstrap: systems have " + std::to_string(a) + " and " +
                  std::to_string(b) + " samples; they must be scored on the same samples");
  }
}

// The paired bootstrap over draws, for rows of `width` values per side: a pair is present when
// neither side's row holds a NaN; `score(sums, count)` is a system's score from its summed rows
// over `count` present pairs.
PairedComparison paired_over_draws(std::span<const double> a, std::span<const double> b,
                                   std::size_t width,
                                   const std::function<double(const double*, double)>& score,
                                   const BootstrapDraws& draws) {
  check_same_size(a.size(), b.size());
  const std::size_t n = a.size() / width;
  ASSAY_CHECK(n == draws.samples() || draws.resamples() == 0);
  // Row: A's values, B's values, 1 when the pair is present (else all zeros).
  const std::size_t wide = 2 * width + 1;
  std::vector<double> rows(n * wide, 0.0), total(wide, 0.0);
  PairedComparison out;
  for (std::size_t i = 0; i < n; ++i) {
    const double* ra = a.data() + i * width;
    const double* rb = b.data() + i * width;
    bool present = true;
    for (std::size_t j = 0; j < width; ++j)
      present = present && !std::isnan(ra[j]) && !std::isnan(rb[j]);
    if (!present) continue;
    double* dst = rows.data() + i * wide;
    std::copy(ra, ra + width, dst);
    std::copy(rb, rb + width, dst + width);
    dst[2 * width] = 1.0;
    for (std::size_t j = 0; j < wide; ++j) total[j] += dst[j];
    ++out.n;
  }
  std::vector<double> deltas;
  if (out.n == 0) {
    finish_paired(out, deltas, draws.options().confidence);
    return out;
  }
  out.score_a = score(total.data(), total[2 * width]);
  out.score_b = score(total.data() + width, total[2 * width]);
  out.delta = out.score_b - out.score_a;
  if (out.n >= 2 && draws.resamples() > 0) {
    std::vector<double> all(static_cast<std::size_t>(draws.resamples()));
    for_each_resample_sum(rows, wide, draws, {}, [&](int k, const double* sums) {
      const double count = sums[2 * width];
      all[static_cast<std::size_t>(k)] = count > 0 ? score(sums + width, count) - score(sums, count)
                                                   : std::numeric_limits<double>::quiet_NaN();
    });
    for (double d : all) {
      if (!std::isnan(d)) deltas.push_back(d);
    }
  }
  finish_paired(out, deltas, draws.options().confidence);
  return out;
}

}  // namespace

PairedComparison paired_bootstrap_mean(std::span<const double> a, std::span<const double> b,
                                       const BootstrapDraws& draws) {
  return paired_over_draws(
      a, b, 1, [](const double* sum, double count) { return *sum / count; }, draws);
}

PairedComparison paired_bootstrap_corpus(std::span<const double> a, std::span<const double> b,
                                         std::size_t width,
                                         const std::function<double(const double*)>& score,
                                         const BootstrapDraws& draws) {
  return paired_over_draws(
      a, b, width, [&](const double* sums, double) { return score(sums); }, draws);
}

PairedComparison paired_bootstrap_mean(std::span<const double> a, std::span<const double> b,
                                       const BootstrapOptions& opt) {
  check_same_size(a.size(), b.size());
  return paired_bootstrap_mean(a, b, make_bootstrap_draws(a.size(), opt));
}

}  // namespace assay::scoring
