// Bootstrap intervals for corpus metrics (resample samples, recompute the corpus score from
// summed per-sample statistics) and paired bootstrap comparisons of two systems scored on the
// same samples. All resampling goes through BootstrapDraws (scoring/aggregate.h): a comparison
// draws once over its paired samples and every metric is compared over those same draws.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <span>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/error.h"
#include "scoring/aggregate.h"

namespace assay::scoring {

// Result of comparing system B against system A on the same samples.
struct PairedComparison {
  double score_a = 0.0;
  double score_b = 0.0;
  double delta = 0.0;   // score_b - score_a on the full sample set
  double ci_low = 0.0;  // percentile bootstrap interval of the delta
  double ci_high = 0.0;
  // One-sided bootstrap p-value for "the sign of delta is real" (Koehn 2004 style):
  // p = (1 + #{resamples whose delta* is 0 or of the opposite sign to delta}) / (resamples + 1).
  // It is 1 when delta == 0, never 0, and small when B's advantage (or deficit) is consistent.
  double p_value = 1.0;
  std::size_t n = 0;  // pairs used (a pair where either side is absent / NaN is left out)
};

// Paired bootstrap of mean(B) − mean(A) over `draws`: a and b hold draws.samples() values, a NaN
// on either side leaves the pair out. Each resample's delta is over the present pairs among its
// drawn indices (a resample that drew none is skipped). Throws assay::Error (invalid input) when
// the sizes differ.
PairedComparison paired_bootstrap_mean(std::span<const double> a, std::span<const double> b,
                                       const BootstrapDraws& draws);

// Paired bootstrap of a corpus metric B − A over `draws`: a and b hold draws.samples() rows of
// `width` statistics (row-major); a row with a NaN on either side leaves the pair out; `score`
// turns summed statistics into the corpus score. Both systems are summed over the same drawn
// pairs. Throws assay::Error (invalid input) when the sizes differ.
PairedComparison paired_bootstrap_corpus(std::span<const double> a, std::span<const double> b,
                                         std::size_t width,
                                         const std::function<double(const double*)>& score,
                                         const BootstrapDraws& draws);

// Sums stats over one index set.
template <typename Stats>
Stats sum_stats(std::span<const Stats> stats, std::span<const std::uint32_t> idx) {
  Stats total{};
  for (auto i : idx) total += stats[i];
  return total;
}

// Bootstrap CI of a corpus metric. `score(Stats)` turns summed statistics into the metric value.
// Equal to {score(all), score(all)} when resamples == 0 or fewer than 2 samples.
template <typename Stats, typename ScoreFn>
Interval corpus_bootstrap(std::span<const Stats> stats, ScoreFn score,
                          const BootstrapOptions& opt) {
  Stats total{};
  for (const auto& s : stats) total += s;
  const double full = score(total);
  if (opt.resamples <= 0 || stats.size() < 2) return {full, full};
  BootstrapDraws draws = make_bootstrap_draws(stats.size(), opt);
  std::vector<double> scores(static_cast<std::size_t>(draws.resamples()));
  tbb::parallel_for(
      tbb::blocked_range<int>(0, draws.resamples()), [&](const tbb::blocked_range<int>& r) {
        for (int k = r.begin(); k != r.end(); ++k) {
          scores[static_cast<std::size_t>(k)] = score(sum_stats<Stats>(stats, draws.resample(k)));
        }
      });
  return percentile_interval(scores, opt.confidence);
}

// p-value and CI from resampled deltas (see PairedComparison::p_value).
void finish_paired(PairedComparison& out, std::vector<double>& deltas, double confidence);

// Paired bootstrap of corpus metric B - A: both systems' statistics are summed over the same
// resampled indices. Throws assay::Error (invalid input) when the sizes differ.
template <typename Stats, typename ScoreFn>
PairedComparison paired_bootstrap_corpus(std::span<const Stats> a, std::span<const Stats> b,
                                         ScoreFn score, const BootstrapOptions& opt) {
  if (a.size() != b.size()) {
    throw_invalid("paired bootstrap: systems have " + std::to_string(a.size()) + " and " +
                  std::to_string(b.size()) + " samples; they must be scored on the same samples");
  }
  PairedComparison out;
  out.n = a.size();
  Stats ta{}, tb{};
  for (const auto& s : a) ta += s;
  for (const auto& s : b) tb += s;
  out.score_a = score(ta);
  out.score_b = score(tb);
  out.delta = out.score_b - out.score_a;
  std::vector<double> deltas;
  if (opt.resamples > 0 && a.size() >= 2) {
    BootstrapDraws draws = make_bootstrap_draws(a.size(), opt);
    deltas.resize(static_cast<std::size_t>(draws.resamples()));
    tbb::parallel_for(
        tbb::blocked_range<int>(0, draws.resamples()), [&](const tbb::blocked_range<int>& r) {
          for (int k = r.begin(); k != r.end(); ++k) {
            deltas[static_cast<std::size_t>(k)] = score(sum_stats<Stats>(b, draws.resample(k))) -
                                                  score(sum_stats<Stats>(a, draws.resample(k)));
          }
        });
  }
  finish_paired(out, deltas, opt.confidence);
  return out;
}

// paired_bootstrap_mean over draws of its own: make_bootstrap_draws(a.size(), opt).
PairedComparison paired_bootstrap_mean(std::span<const double> a, std::span<const double> b,
                                       const BootstrapOptions& opt);

}  // namespace assay::scoring
