// Bad input: empty, huge, invalid UTF-8, NaN log-probs. Defined results, never a crash or hang.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "scoring/bleu.h"
#include "scoring/chrf.h"
#include "scoring/perplexity.h"
#include "scoring/rouge.h"
#include "scoring/scorer.h"
#include "scoring/ter.h"

namespace assay::scoring {
namespace {

TEST(BadInputTest, EmptyStrings) {
  EXPECT_EQ(sentence_bleu("", "").score, 0.0);
  EXPECT_EQ(sentence_chrf("", "", 2), 0.0);
  EXPECT_EQ(sentence_ter("", ""), 0.0);         // sacrebleu: both empty -> 0
  EXPECT_EQ(sentence_ter("a b", ""), 100.0);    // empty reference, non-empty hypothesis -> 100
  EXPECT_EQ(sentence_ter("", "a b c"), 100.0);  // 3 deletions / 3
  RougeScores r = rouge_scores("", "x", true);
  EXPECT_EQ(r.rouge1.fmeasure, 0.0);
  EXPECT_EQ(r.rougeLsum.fmeasure, 0.0);
}

TEST(BadInputTest, InvalidUtf8IsReplacementCharacter) {
  // "caf\xE9" (Latin-1 bytes) decodes as "caf" + U+FFFD, exactly like the valid UTF-8 spelling.
  const std::string bad = "caf\xE9 ok";
  const std::string replaced = "caf\xEF\xBF\xBD ok";
  EXPECT_EQ(tokenize_13a(bad), tokenize_13a(replaced));
  EXPECT_EQ(sentence_bleu(bad, "caf ok").score, sentence_bleu(replaced, "caf ok").score);
  EXPECT_EQ(sentence_chrf(bad, replaced, 2), 100.0);
  EXPECT_EQ(sentence_ter(bad, replaced), 0.0);
  EXPECT_EQ(rouge_tokenize(bad, false), (std::vector<std::string>{"caf", "ok"}));
  // Truncated sequences and lone continuation bytes at the ends.
  for (std::string s : {std::string("\xF0\x9F"), std::string("\x80"), std::string("a\xC3")}) {
    EXPECT_NO_THROW(sentence_bleu(s, s));
    EXPECT_EQ(sentence_chrf(s, s), 100.0);
  }
}

TEST(BadInputTest, HugeStringsFinish) {
  std::string words;
  for (int i = 0; i < 200000; ++i) words += "w" + std::to_string(i % 5000) + " ";
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_GT(sentence_bleu(words, words).score, 99.0);
  EXPECT_EQ(sentence_chrf(words, words, 2), 100.0);
  // Beyond the documented limits: NaN, immediately, not minutes of work or gigabytes.
  EXPECT_TRUE(std::isnan(sentence_ter(words, words)));
  RougeScores r = rouge_scores(words, words, false);
  EXPECT_EQ(r.rouge1.fmeasure, 1.0);
  EXPECT_TRUE(std::isnan(r.rougeL.fmeasure));
  EXPECT_TRUE(std::isnan(r.rougeLsum.fmeasure));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 60.0);
  // One enormous token.
  std::string token(1 << 20, 'y');
  EXPECT_EQ(rouge_tokenize(token, true).size(), 1u);
  // A long 'y' run before suffixes that make the stemmer measure the stem (linear, not
  // quadratic, in the run length).
  EXPECT_EQ(rouge_tokenize(std::string(1 << 20, 'y') + "ational", true).size(), 1u);
}

TEST(BadInputTest, NaNTerIsSkippedByCorpusAndMean) {
  std::string big;
  for (int i = 0; i < kTerMaxWords + 1; ++i) big += "x ";
  auto out =
      score_dataset({big, "a b"}, {"y", "a c"}, {{"ter", nullptr}}, BootstrapOptions{20, 1, 0.95});
  EXPECT_TRUE(std::isnan(out.values[0][0]));
  EXPECT_EQ(out.summary.at("ter").at("n"), 1);
  EXPECT_EQ(out.corpus.at("ter").at("not_computed"), 1);
  EXPECT_DOUBLE_EQ(out.corpus.at("ter").at("score").get<double>(), 50.0);
}

TEST(BadInputTest, LogProbs) {
  std::vector<float> lp = {-1.0f, -2.0f, -3.0f};
  LogLikelihood ll = log_likelihood(lp, 12);
  EXPECT_DOUBLE_EQ(perplexity(ll), std::exp(2.0));
  EXPECT_DOUBLE_EQ(bits_per_byte(ll), 6.0 / (12 * std::log(2.0)));
  std::vector<float> with_nan = {-1.0f, std::numeric_limits<float>::quiet_NaN()};
  try {
    log_likelihood(with_nan, 3);
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("token 1"), std::string::npos) << e.what();
  }
  std::vector<float> positive = {0.5f};
  EXPECT_THROW(log_likelihood(positive, 1), Error);
  std::vector<float> neg_inf = {-std::numeric_limits<float>::infinity()};
  EXPECT_TRUE(std::isinf(perplexity(log_likelihood(neg_inf, 1))));
  EXPECT_THROW(perplexity(log_likelihood({}, 0)), Error);
  EXPECT_THROW(bits_per_byte(log_likelihood(lp, 0)), Error);
  // Summing in double: a million small float log-probs keep full precision.
  std::vector<float> many(1000000, -0.1f);
  LogLikelihood big = log_likelihood(many, 1);
  EXPECT_NEAR(big.sum_logprob, -0.1f * 1e6, 1e-3);
  // Corpus perplexity is from summed statistics.
  LogLikelihood total = ll;
  total += log_likelihood(std::vector<float>{-4.0f}, 4);
  EXPECT_DOUBLE_EQ(perplexity(total), std::exp(10.0 / 4));
}

}  // namespace
}  // namespace assay::scoring

namespace assay::scoring {
namespace {

TEST(BadInputTest, ChrfWithMoreThan255DistinctCharacters) {
  // 300 distinct CJK code points: the generic (non-byte-id) chrF path. The hypothesis is the first
  // 150, so every hypothesis n-gram matches once: precision 1, recall (150-n+1)/(300-n+1).
  std::string ref, hyp;
  for (char32_t cp = 0x4E00; cp < 0x4E00 + 300; ++cp) {
    std::string ch = {static_cast<char>(0xE0 | (cp >> 12)),
                      static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                      static_cast<char>(0x80 | (cp & 0x3F))};
    ref += ch;
    if (cp < 0x4E00 + 150) hyp += ch;
  }
  double avg_rec = 0;
  for (int n = 1; n <= 6; ++n) avg_rec += (150.0 - n + 1) / (300.0 - n + 1);
  avg_rec /= 6;
  const double expected = 100 * 5 * 1.0 * avg_rec / (4 * 1.0 + avg_rec);
  EXPECT_NEAR(sentence_chrf(hyp, ref), expected, 1e-9);
  EXPECT_EQ(sentence_chrf(ref, ref), 100.0);
}

}  // namespace
}  // namespace assay::scoring

namespace assay::scoring {
namespace {

TEST(BadInputTest, BleuWithMoreThan65535DistinctTokens) {
  // 70,000 distinct words take the generic n-gram path. Hypothesis = the reference minus its last
  // 10,000 words: every hypothesis n-gram matches once, so counts == totals and bp < 1.
  std::string ref, hyp;
  for (int i = 0; i < 70000; ++i) {
    std::string w = "t" + std::to_string(i) + " ";
    ref += w;
    if (i < 60000) hyp += w;
  }
  BleuScore b = sentence_bleu(hyp, ref);
  for (int n = 0; n < kBleuOrder; ++n) {
    EXPECT_EQ(b.totals[n], 60000 - n);
    EXPECT_EQ(b.counts[n], 60000 - n);
  }
  EXPECT_NEAR(b.bp, std::exp(1.0 - 70000.0 / 60000.0), 1e-15);
  EXPECT_NEAR(b.score, 100 * std::exp(1.0 - 70000.0 / 60000.0), 1e-9);
}

}  // namespace
}  // namespace assay::scoring
