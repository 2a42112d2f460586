// One set of bootstrap draws for every aggregate: the documented semantics with absent (NaN)
// values, recomputed here step by step from the draws' indices, and the one-pass paths against
// the per-column and typed paths they replace.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "scoring/aggregate.h"
#include "scoring/bleu.h"
#include "scoring/compare.h"
#include "scoring/scorer.h"

namespace assay::scoring {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(AggregateTest, DrawsAreOneStreamResampleByResample) {
  BootstrapOptions opt{7, 42, 0.9};
  BootstrapDraws draws = make_bootstrap_draws(13, opt);
  ASSERT_EQ(draws.resamples(), 7);
  std::mt19937_64 rng(42);
  for (int k = 0; k < 7; ++k) {
    for (std::uint32_t idx : draws.resample(k)) EXPECT_EQ(idx, bounded_draw(rng, 13));
  }
  EXPECT_EQ(make_bootstrap_draws(0, opt).resamples(), 0);
  EXPECT_EQ(make_bootstrap_draws(5, BootstrapOptions{0, 1, 0.9}).resamples(), 0);
}

// The documented semantics, step by step: per resample, the mean of the non-NaN values among the
// drawn indices; resamples that drew none are dropped; numpy-style quantiles.
Interval reference_ci(const std::vector<double>& v, const BootstrapDraws& draws) {
  std::vector<double> means;
  for (int k = 0; k < draws.resamples(); ++k) {
    double sum = 0;
    int count = 0;
    for (auto i : draws.resample(k)) {
      if (std::isnan(v[i])) continue;
      sum += v[i];
      ++count;
    }
    if (count > 0) means.push_back(sum / count);
  }
  std::sort(means.begin(), means.end());
  double alpha = 1 - draws.options().confidence;
  return {quantile_sorted(means, alpha / 2), quantile_sorted(means, 1 - alpha / 2)};
}

TEST(AggregateTest, MeanSkipsAbsentValuesPerResample) {
  // 2 of 6 present: many resamples draw neither and are dropped.
  std::vector<double> v = {kNaN, 1.0, kNaN, kNaN, 4.0, kNaN};
  BootstrapDraws draws = make_bootstrap_draws(v.size(), BootstrapOptions{200, 5, 0.9});
  MeanSummary s = summarize_mean(v, draws);
  EXPECT_EQ(s.n, 2u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.stderr_, 1.5);  // sd sqrt(4.5) / sqrt(2)
  Interval ref = reference_ci(v, draws);
  EXPECT_DOUBLE_EQ(s.ci_low, ref.low);
  EXPECT_DOUBLE_EQ(s.ci_high, ref.high);
  EXPECT_LT(s.ci_low, s.ci_high);
  // One value: no interval.
  MeanSummary one = summarize_mean(std::vector<double>{kNaN, 3.0, kNaN},
                                   make_bootstrap_draws(3, BootstrapOptions{50, 1, 0.9}));
  EXPECT_EQ(one.n, 1u);
  EXPECT_EQ(one.ci_low, 3.0);
  EXPECT_EQ(one.ci_high, 3.0);
}

TEST(AggregateTest, ManyColumnsAtOnceEqualOneAtATime) {
  std::mt19937_64 rng(3);
  const std::size_t n = 57, width = 4;
  std::vector<double> rows(n * width);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i] = (rng() % 5 == 0 && i % width != 0) ? kNaN : static_cast<double>(rng() % 1000) / 7;
  }
  BootstrapDraws draws = make_bootstrap_draws(n, BootstrapOptions{300, 11, 0.95});
  std::vector<MeanSummary> all = summarize_means(rows, width, draws);
  for (std::size_t c = 0; c < width; ++c) {
    std::vector<double> column(n);
    for (std::size_t i = 0; i < n; ++i) column[i] = rows[i * width + c];
    MeanSummary one = summarize_mean(column, draws);
    Interval ref = reference_ci(column, draws);
    EXPECT_EQ(all[c].n, one.n);
    EXPECT_DOUBLE_EQ(all[c].mean, one.mean);
    EXPECT_DOUBLE_EQ(all[c].ci_low, ref.low) << c;
    EXPECT_DOUBLE_EQ(all[c].ci_high, ref.high) << c;
  }
}

TEST(AggregateTest, CorpusOverDrawsEqualsTheTypedBootstrap) {
  std::vector<std::string> hyps = {"the cat sat on the mat", "a dog barked", "hello world !",
                                   "one two three four five", "completely different"};
  std::vector<std::string> refs = {"the cat sat on a mat", "the dog barked loudly", "hello , world",
                                   "one two three four five", "nothing alike here"};
  std::vector<BleuStats> typed;
  for (size_t i = 0; i < hyps.size(); ++i) typed.push_back(bleu_stats(hyps[i], refs[i]));
  BootstrapOptions opt{80, 17, 0.9};
  Interval want = corpus_bootstrap<BleuStats>(
      typed, [](const BleuStats& s) { return compute_bleu(s, false).score; }, opt);
  ScoredDataset got = score_dataset(hyps, refs, {{"bleu", nullptr}}, opt);
  EXPECT_DOUBLE_EQ(got.corpus["bleu"]["ci_low"].get<double>(), want.low);
  EXPECT_DOUBLE_EQ(got.corpus["bleu"]["ci_high"].get<double>(), want.high);
}

TEST(AggregateTest, ScoredRowsMappedIntoTheDatasetEqualNaNRows) {
  // Rows scored for dataset samples 4, 0 and 2 of 6 give the same aggregates as the 6 samples
  // with the other three absent.
  std::vector<std::string> hyps = {"a b c", "x y", "the cat sat", "q", "hello there", "zz"};
  std::vector<std::string> refs = {"a b d", "x y", "the cat sat down", "r", "hello here", "zz"};
  std::vector<MetricRequest> req = {{"squad", nullptr}, {"chrf", nullptr}};
  BootstrapDraws draws = make_bootstrap_draws(6, BootstrapOptions{120, 9, 0.9});
  std::vector<std::size_t> dataset_row = {4, 0, 2};
  SampleScores part = score_samples({hyps[4], hyps[0], hyps[2]}, {refs[4], refs[0], refs[2]}, req);
  ScoredDataset mapped;
  aggregate_scores(part, draws, dataset_row, mapped);

  SampleScores full = score_samples(hyps, refs, req);
  for (std::size_t absent : {1, 3, 5}) {
    for (std::size_t c = 0; c < full.columns.size(); ++c) {
      full.values[absent * full.columns.size() + c] = kNaN;
    }
    for (auto& corpus : full.corpus) corpus.stats[absent * corpus.form->width] = kNaN;
  }
  ScoredDataset nan_rows;
  aggregate_scores(full, draws, {}, nan_rows);
  for (const auto& column : full.columns) {
    SCOPED_TRACE(column);
    for (const char* f : {"mean", "n", "ci_low", "ci_high"}) {
      EXPECT_DOUBLE_EQ(mapped.summary[column][f].get<double>(),
                       nan_rows.summary[column][f].get<double>())
          << f;
    }
  }
  // Corpus: the same statistics and CI; the NaN rows are counted as not computed only there.
  for (const char* name : {"chrf", "chrf_pp"}) {
    EXPECT_DOUBLE_EQ(mapped.corpus[name]["score"].get<double>(),
                     nan_rows.corpus[name]["score"].get<double>());
    EXPECT_DOUBLE_EQ(mapped.corpus[name]["ci_low"].get<double>(),
                     nan_rows.corpus[name]["ci_low"].get<double>());
    EXPECT_DOUBLE_EQ(mapped.corpus[name]["ci_high"].get<double>(),
                     nan_rows.corpus[name]["ci_high"].get<double>());
    EXPECT_EQ(mapped.corpus[name]["n"], 3);
  }
}

TEST(AggregateTest, PairedMeanSkipsPairsWithAnAbsentSide) {
  std::vector<double> a = {0.1, kNaN, 0.5, 0.3, 0.9, 0.2, kNaN};
  std::vector<double> b = {0.4, 0.7, kNaN, 0.6, 0.8, 0.9, 0.1};
  BootstrapDraws draws = make_bootstrap_draws(a.size(), BootstrapOptions{150, 21, 0.9});
  PairedComparison c = paired_bootstrap_mean(a, b, draws);
  // Present pairs: 0, 3, 4, 5. A = 1.5 / 4, B = 2.7 / 4.
  EXPECT_EQ(c.n, 4u);
  EXPECT_DOUBLE_EQ(c.score_a, 1.5 / 4);
  EXPECT_DOUBLE_EQ(c.score_b, 2.7 / 4);
  std::vector<double> deltas;
  for (int k = 0; k < draws.resamples(); ++k) {
    double sa = 0, sb = 0;
    int count = 0;
    for (auto i : draws.resample(k)) {
      if (std::isnan(a[i]) || std::isnan(b[i])) continue;
      sa += a[i];
      sb += b[i];
      ++count;
    }
    if (count > 0) deltas.push_back(sb / count - sa / count);
  }
  std::size_t against =
      std::count_if(deltas.begin(), deltas.end(), [](double d) { return d <= 0; });
  std::sort(deltas.begin(), deltas.end());
  EXPECT_DOUBLE_EQ(c.ci_low, quantile_sorted(deltas, 0.05));
  EXPECT_DOUBLE_EQ(c.ci_high, quantile_sorted(deltas, 0.95));
  EXPECT_DOUBLE_EQ(c.p_value, (1.0 + against) / (deltas.size() + 1.0));
}

}  // namespace
}  // namespace assay::scoring
