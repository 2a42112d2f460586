// Corpus bootstrap and paired bootstrap (scoring/compare.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "scoring/bleu.h"
#include "scoring/compare.h"

namespace assay::scoring {
namespace {

TEST(CompareTest, CorpusBootstrapEqualsRecomputingFromResampledStrings) {
  std::vector<std::string> hyps = {"the cat sat on the mat", "a dog barked", "hello world !",
                                   "one two three four five", "completely different"};
  std::vector<std::string> refs = {"the cat sat on a mat", "the dog barked loudly", "hello , world",
                                   "one two three four five", "nothing alike here"};
  std::vector<BleuStats> stats;
  for (size_t i = 0; i < hyps.size(); ++i) stats.push_back(bleu_stats(hyps[i], refs[i]));
  BootstrapOptions opt{50, 99, 0.9};
  Interval ci = corpus_bootstrap<BleuStats>(
      stats, [](const BleuStats& s) { return compute_bleu(s, false).score; }, opt);
  // Independent path: materialise each resample as strings and call corpus_bleu.
  std::vector<double> scores;
  for (const auto& set : bootstrap_indices(hyps.size(), opt)) {
    std::vector<std::string> h, r;
    for (auto i : set) {
      h.push_back(hyps[i]);
      r.push_back(refs[i]);
    }
    scores.push_back(corpus_bleu(h, r).score);
  }
  std::sort(scores.begin(), scores.end());
  EXPECT_DOUBLE_EQ(ci.low, quantile_sorted(scores, 0.05));
  EXPECT_DOUBLE_EQ(ci.high, quantile_sorted(scores, 0.95));
  EXPECT_LT(ci.low, ci.high);
}

TEST(CompareTest, PairedMeanIdenticalSystemsIsNoDifference) {
  std::vector<double> a = {0.1, 0.5, 0.9, 0.3};
  auto r = paired_bootstrap_mean(a, a, BootstrapOptions{100, 3, 0.95});
  EXPECT_EQ(r.delta, 0.0);
  EXPECT_EQ(r.ci_low, 0.0);
  EXPECT_EQ(r.ci_high, 0.0);
  EXPECT_EQ(r.p_value, 1.0);
}

TEST(CompareTest, PairedMeanConsistentWinHasSmallestPValue) {
  std::vector<double> a, b;
  for (int i = 0; i < 50; ++i) {
    a.push_back(0.01 * i);
    b.push_back(0.01 * i + 0.1 + 0.001 * (i % 7));  // B beats A on every sample
  }
  auto r = paired_bootstrap_mean(a, b, BootstrapOptions{999, 5, 0.95});
  // mean(i % 7) over i < 50 is 147 / 50.
  EXPECT_NEAR(r.delta, 0.1 + 0.001 * 147.0 / 50.0, 1e-12);
  EXPECT_DOUBLE_EQ(r.p_value, 1.0 / 1000.0);  // no resample reverses the sign
  EXPECT_GT(r.ci_low, 0.1);
  EXPECT_LT(r.ci_high, 0.107);
}

TEST(CompareTest, PairedMeanNoisyTieHasLargePValue) {
  std::vector<double> a, b;
  for (int i = 0; i < 40; ++i) {
    a.push_back(i % 2);
    b.push_back((i + 1) % 2);  // same mean, opposite per sample
  }
  b[1] = 1.0;  // was 0 (a[1] is 1): B now ahead by exactly one sample
  auto r = paired_bootstrap_mean(a, b, BootstrapOptions{1000, 11, 0.95});
  EXPECT_NEAR(r.delta, 1.0 / 40, 1e-12);
  EXPECT_GT(r.p_value, 0.2);
  EXPECT_LT(r.ci_low, 0.0);
  EXPECT_GT(r.ci_high, 0.0);
}

TEST(CompareTest, PairedCorpusBleu) {
  std::vector<std::string> refs = {"the cat sat on the mat", "the dog barked loudly",
                                   "hello , world", "one two three four five"};
  std::vector<std::string> base = {"a cat on mat", "dog", "hi", "one two"};
  std::vector<std::string> tuned = refs;
  std::vector<BleuStats> sa, sb;
  for (size_t i = 0; i < refs.size(); ++i) {
    sa.push_back(bleu_stats(base[i], refs[i]));
    sb.push_back(bleu_stats(tuned[i], refs[i]));
  }
  auto score = [](const BleuStats& s) { return compute_bleu(s, false).score; };
  auto r = paired_bootstrap_corpus<BleuStats>(sa, sb, score, BootstrapOptions{200, 1, 0.95});
  EXPECT_DOUBLE_EQ(r.score_a, corpus_bleu(base, refs).score);
  EXPECT_DOUBLE_EQ(r.score_b, corpus_bleu(tuned, refs).score);
  EXPECT_DOUBLE_EQ(r.delta, r.score_b - r.score_a);
  EXPECT_GT(r.delta, 50.0);
  EXPECT_LT(r.p_value, 0.01);
  std::vector<BleuStats> shorter(sa.begin(), sa.end() - 1);
  EXPECT_THROW(paired_bootstrap_corpus<BleuStats>(shorter, sb, score, BootstrapOptions{}), Error);
}

}  // namespace
}  // namespace assay::scoring
