#include "scoring/aggregate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

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

BootstrapDraws::BootstrapDraws(std::size_t n, const BootstrapOptions& options)
    : n_(n), options_(options) {
  ASSAY_CHECK(n <= 0xFFFFFFFFu);
  if (n == 0 || options.resamples <= 0) return;
  resamples_ = options.resamples;
  indices_.resize(static_cast<std::size_t>(resamples_) * n);
  std::mt19937_64 rng(options.seed);
  for (auto& idx : indices_) idx = static_cast<std::uint32_t>(bounded_draw(rng, n));
}

BootstrapDraws make_bootstrap_draws(std::size_t n, const BootstrapOptions& options) {
  return BootstrapDraws(n, options);
}

std::vector<std::vector<std::uint32_t>> bootstrap_indices(std::size_t n,
                                                          const BootstrapOptions& opt) {
  BootstrapDraws draws(n, opt);
  std::vector<std::vector<std::uint32_t>> sets(static_cast<std::size_t>(draws.resamples()));
  for (int k = 0; k < draws.resamples(); ++k) {
    auto set = draws.resample(k);
    sets[static_cast<std::size_t>(k)].assign(set.begin(), set.end());
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

namespace {

// sums[0, width) += row[0, width), four at a time (the sums stay in L1; the adds vectorize).
inline void add_row(double* __restrict sums, const double* __restrict row, std::size_t width) {
  std::size_t j = 0;
  for (; j + 4 <= width; j += 4) {
    sums[j] += row[j];
    sums[j + 1] += row[j + 1];
    sums[j + 2] += row[j + 2];
    sums[j + 3] += row[j + 3];
  }
  for (; j < width; ++j) sums[j] += row[j];
}

}  // namespace

namespace {
constexpr std::size_t kPrefetchAhead = 8;

void prefetch_row(const double* row, std::size_t width) {
  for (std::size_t j = 0; j < width; j += 8) __builtin_prefetch(row + j);
}
}  // namespace

void for_each_resample_sum(std::span<const double> rows, std::size_t width,
                           const BootstrapDraws& draws, std::span<const std::int32_t> row_of_sample,
                           const std::function<void(int k, const double* sums)>& visit) {
  ASSAY_CHECK(row_of_sample.empty() || row_of_sample.size() == draws.samples());
  ASSAY_CHECK(width == 0 || rows.size() % width == 0);
  ASSAY_CHECK(!row_of_sample.empty() || width == 0 || rows.size() / width == draws.samples());
  tbb::parallel_for(
      tbb::blocked_range<int>(0, draws.resamples()), [&](const tbb::blocked_range<int>& range) {
        std::vector<double> sums(width);
        for (int k = range.begin(); k != range.end(); ++k) {
          std::fill(sums.begin(), sums.end(), 0.0);
          const std::span<const std::uint32_t> drawn = draws.resample(k);
          auto row_at = [&](std::uint32_t idx) {
            return row_of_sample.empty() ? static_cast<std::int32_t>(idx) : row_of_sample[idx];
          };
          for (std::size_t t = 0; t < drawn.size(); ++t) {
            // The rows are drawn at random: fetch one a few draws ahead so its cache lines are
            // on their way while this one is added.
            if (t + kPrefetchAhead < drawn.size()) {
              std::int32_t ahead = row_at(drawn[t + kPrefetchAhead]);
              if (ahead >= 0)
                prefetch_row(rows.data() + static_cast<std::size_t>(ahead) * width, width);
            }
            std::int32_t row = row_at(drawn[t]);
            if (row < 0) continue;
            add_row(sums.data(), rows.data() + static_cast<std::size_t>(row) * width, width);
          }
          visit(k, sums.data());
        }
      });
}

Interval percentile_interval(std::vector<double>& scores, double confidence) {
  ASSAY_CHECK(!scores.empty());
  std::sort(scores.begin(), scores.end());
  double alpha = 1.0 - confidence;
  return {quantile_sorted(scores, alpha / 2), quantile_sorted(scores, 1.0 - alpha / 2)};
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Mean, n and stderr of column c over the non-NaN values, in row order.
MeanSummary point_summary(std::span<const double> rows, std::size_t width, std::size_t c) {
  MeanSummary s;
  const std::size_t n_rows = rows.size() / width;
  double sum = 0.0;
  for (std::size_t r = 0; r < n_rows; ++r) {
    double x = rows[r * width + c];
    if (std::isnan(x)) continue;
    sum += x;
    ++s.n;
  }
  if (s.n == 0) return s;
  s.mean = sum / static_cast<double>(s.n);
  s.ci_low = s.ci_high = s.mean;
  if (s.n < 2) return s;
  double ss = 0.0;
  for (std::size_t r = 0; r < n_rows; ++r) {
    double x = rows[r * width + c];
    if (!std::isnan(x)) ss += (x - s.mean) * (x - s.mean);
  }
  s.stderr_ = std::sqrt(ss / static_cast<double>(s.n - 1)) / std::sqrt(double(s.n));
  return s;
}

bool row_has_nan(const double* row, std::size_t width) {
  for (std::size_t j = 0; j < width; ++j) {
    if (std::isnan(row[j])) return true;
  }
  return false;
}

// Percentile CI of the non-NaN entries of `scores` (in place); nullopt-like `fallback` when none.
Interval interval_of(std::span<double> scores, double confidence, Interval fallback) {
  auto end = std::remove_if(scores.begin(), scores.end(), [](double m) { return std::isnan(m); });
  if (end == scores.begin()) return fallback;
  std::vector<double> kept(scores.begin(), end);
  return percentile_interval(kept, confidence);
}

}  // namespace

Aggregates aggregate_over_draws(std::span<const double> columns, std::size_t width,
                                std::span<const CorpusInput> corpus, const BootstrapDraws& draws,
                                std::span<const std::int32_t> row_of_sample) {
  Aggregates out;
  std::size_t n_rows = width > 0 ? columns.size() / width : 0;
  if (width == 0 && !corpus.empty()) n_rows = corpus[0].stats.size() / corpus[0].width;
  for (const auto& in : corpus) ASSAY_CHECK(in.width > 0 && in.stats.size() == n_rows * in.width);
  for (std::size_t c = 0; c < width; ++c) out.columns.push_back(point_summary(columns, width, c));
  std::vector<std::size_t> corpus_rows(corpus.size(), 0);  // rows without a NaN
  std::vector<double> totals;
  for (std::size_t q = 0; q < corpus.size(); ++q) {
    const CorpusInput& in = corpus[q];
    std::vector<double> total(in.width, 0.0);
    for (std::size_t r = 0; r < n_rows; ++r) {
      const double* row = in.stats.data() + r * in.width;
      if (row_has_nan(row, in.width)) continue;
      add_row(total.data(), row, in.width);
      ++corpus_rows[q];
    }
    double full = in.score(total.data());
    out.corpus.push_back({full, full});
  }
  if (draws.resamples() == 0 || n_rows == 0) return out;

  // The resampled matrix, one row per row: the columns with NaN replaced by 0, a 1 (counts the
  // drawn samples that have a row), a presence column for each column that has a NaN, then each
  // corpus input's statistics (zeros where left out) and its presence column when it left one out.
  const std::size_t ones = width;
  std::size_t wide = width + 1;
  std::vector<std::size_t> count_col(width, ones);
  for (std::size_t c = 0; c < width; ++c) {
    if (out.columns[c].n != n_rows) count_col[c] = wide++;
  }
  std::vector<std::size_t> stats_col(corpus.size()), corpus_count_col(corpus.size(), ones);
  for (std::size_t q = 0; q < corpus.size(); ++q) {
    stats_col[q] = wide;
    wide += corpus[q].width;
    if (corpus_rows[q] != n_rows) corpus_count_col[q] = wide++;
  }
  std::vector<double> work(n_rows * wide, 0.0);
  for (std::size_t r = 0; r < n_rows; ++r) {
    double* dst = work.data() + r * wide;
    dst[ones] = 1.0;
    for (std::size_t c = 0; c < width; ++c) {
      double x = columns[r * width + c];
      if (std::isnan(x)) continue;
      dst[c] = x;
      dst[count_col[c]] = 1.0;
    }
    for (std::size_t q = 0; q < corpus.size(); ++q) {
      const double* row = corpus[q].stats.data() + r * corpus[q].width;
      if (row_has_nan(row, corpus[q].width)) continue;
      std::copy(row, row + corpus[q].width, dst + stats_col[q]);
      dst[corpus_count_col[q]] = 1.0;
    }
  }
  const auto n_res = static_cast<std::size_t>(draws.resamples());
  // [column or corpus input][resample]; NaN marks a skipped resample.
  std::vector<double> values((width + corpus.size()) * n_res);
  for_each_resample_sum(work, wide, draws, row_of_sample, [&](int k, const double* sums) {
    const auto kk = static_cast<std::size_t>(k);
    for (std::size_t c = 0; c < width; ++c) {
      double count = sums[count_col[c]];
      values[c * n_res + kk] = count > 0 ? sums[c] / count : kNaN;
    }
    for (std::size_t q = 0; q < corpus.size(); ++q) {
      values[(width + q) * n_res + kk] =
          sums[corpus_count_col[q]] > 0 ? corpus[q].score(sums + stats_col[q]) : kNaN;
    }
  });
  const double confidence = draws.options().confidence;
  for (std::size_t c = 0; c < width; ++c) {
    MeanSummary& s = out.columns[c];
    if (s.n < 2) continue;
    Interval ci =
        interval_of(std::span(values).subspan(c * n_res, n_res), confidence, {s.mean, s.mean});
    s.ci_low = ci.low;
    s.ci_high = ci.high;
  }
  for (std::size_t q = 0; q < corpus.size(); ++q) {
    if (corpus_rows[q] < 2) continue;
    out.corpus[q] = interval_of(std::span(values).subspan((width + q) * n_res, n_res), confidence,
                                out.corpus[q]);
  }
  return out;
}

std::vector<MeanSummary> summarize_means(std::span<const double> rows, std::size_t width,
                                         const BootstrapDraws& draws,
                                         std::span<const std::int32_t> row_of_sample) {
  return aggregate_over_draws(rows, width, {}, draws, row_of_sample).columns;
}

MeanSummary summarize_mean(std::span<const double> values, const BootstrapDraws& draws) {
  ASSAY_CHECK(values.size() == draws.samples() || draws.resamples() == 0);
  return summarize_means(values, 1, draws).front();
}

MeanSummary summarize_mean(std::span<const double> values, const BootstrapOptions& opt) {
  return summarize_mean(values, make_bootstrap_draws(values.size(), opt));
}

}  // namespace assay::scoring
