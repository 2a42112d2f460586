// score_dataset wiring: names, groups, options, corpus statistics and parallel determinism.
#include <gtest/gtest.h>

#include <atomic>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "scoring/bleu.h"
#include "scoring/scorer.h"

namespace assay::scoring {
namespace {

using json = nlohmann::json;

std::vector<MetricRequest> req(std::initializer_list<const char*> names) {
  std::vector<MetricRequest> out;
  for (const char* n : names) out.push_back({n, nullptr});
  return out;
}

std::string error_of(const std::vector<MetricRequest>& r) {
  try {
    resolve_metrics(r);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ScorerTest, KnowsTheIssueNames) {
  // The public per-sample names of pairs.jsonl (issue 5) must all resolve.
  for (const char* name :
       {"exact_match", "squad_em", "squad_f1", "sentence_bleu", "chrf_pp", "ter", "rouge1_f",
        "rouge2_f", "rougeL_f", "rougeLsum_f", "rouge1_f_stem", "rouge2_f_stem", "rougeL_f_stem",
        "rougeLsum_f_stem", "rouge1_p", "rougeLsum_r_stem"}) {
    EXPECT_EQ(resolve_metrics(req({name})), std::vector<std::string>{name});
  }
  // "chrf" is also a group name, and the group wins: chrF and chrF++.
  EXPECT_EQ(resolve_metrics(req({"chrf"})), (std::vector<std::string>{"chrf", "chrf_pp"}));
}

TEST(ScorerTest, ExpandsGroupsInCanonicalOrder) {
  EXPECT_EQ(resolve_metrics(req({"rouge", "bleu"})),
            (std::vector<std::string>{"sentence_bleu", "rouge1_f", "rouge2_f", "rougeL_f",
                                      "rougeLsum_f"}));
  EXPECT_EQ(resolve_metrics(req({"chrf", "ter", "squad"})),
            (std::vector<std::string>{"squad_em", "squad_f1", "chrf", "chrf_pp", "ter"}));
  auto all = resolve_metrics(req({"all"}));
  EXPECT_EQ(all.size(), known_metrics().size() - 1);  // everything except regex_match
  EXPECT_EQ(std::find(all.begin(), all.end(), "regex_match"), all.end());
}

TEST(ScorerTest, UnknownMetricListsTheRegistry) {
  std::string msg = error_of(req({"rouge1_F"}));
  EXPECT_NE(msg.find("did you mean 'rouge1_f'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sentence_bleu"), std::string::npos) << msg;  // generated from the registry
  EXPECT_NE(msg.find("rouge_stem"), std::string::npos) << msg;
}

TEST(ScorerTest, ValidatesOptions) {
  EXPECT_NE(error_of({{"sentence_bleu", json{{"beta", 3}}}}).find("unknown option 'beta'"),
            std::string::npos);
  EXPECT_NE(error_of({{"rouge", json{{"x", 1}}}}).find("takes no options"), std::string::npos);
  auto score = [](std::vector<MetricRequest> r) {
    return score_dataset({"a"}, {"a"}, r, BootstrapOptions{0, 1, 0.95});
  };
  EXPECT_THROW(score({{"regex_match", nullptr}}), Error);
  EXPECT_THROW(score({{"regex_match", json{{"pattern", 5}}}}), Error);
  try {
    score({{"regex_match", json{{"pattern", "(unclosed"}}}});
    FAIL() << "bad pattern accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not compile"), std::string::npos) << e.what();
  }
  EXPECT_THROW(score({{"contains", json{{"ignore_case", "yes"}}}}), Error);
}

TEST(ScorerTest, RegexContainsJsonAndWords) {
  std::vector<std::string> preds = {"The answer is B.", "b", "{\"a\": [1, 2]}", "  ", "[1,"};
  std::vector<std::string> refs = {"B", "B", "x", "", "1"};
  std::vector<MetricRequest> r = {
      {"regex_match", json{{"pattern", "^[A-D]$"}, {"full", true}, {"ignore_case", true}}},
      {"contains", nullptr},
      {"valid_json", nullptr},
      {"answer_words", nullptr}};
  auto out = score_dataset(preds, refs, r, BootstrapOptions{0, 1, 0.95});
  ASSERT_EQ(out.columns,
            (std::vector<std::string>{"regex_match", "contains", "valid_json", "answer_words"}));
  // regex_match (full, ignore case): only "b" is a whole-answer letter A-D.
  EXPECT_EQ(out.values[0][0], 0.0);
  EXPECT_EQ(out.values[1][0], 1.0);
  // contains (case-sensitive): "B" in "The answer is B." yes; "B" in "b" no; "" in "  " yes.
  EXPECT_EQ(out.values[0][1], 1.0);
  EXPECT_EQ(out.values[1][1], 0.0);
  EXPECT_EQ(out.values[3][1], 1.0);
  EXPECT_EQ(out.values[4][1], 1.0);
  // valid_json
  EXPECT_EQ(out.values[2][2], 1.0);
  EXPECT_EQ(out.values[4][2], 0.0);
  EXPECT_EQ(out.values[3][2], 0.0);
  // words
  EXPECT_EQ(out.values[0][3], 4.0);
  EXPECT_EQ(out.values[3][3], 0.0);
}

TEST(ScorerTest, CorpusMatchesGoldensAndHasCi) {
  std::ifstream in(std::string(ASSAY_SOURCE_DIR) + "/tests/data/metrics/pairs.jsonl");
  std::ifstream cin(std::string(ASSAY_SOURCE_DIR) + "/tests/data/metrics/corpus.json");
  ASSERT_TRUE(in && cin);
  json want = json::parse(cin).at("all");
  std::vector<std::string> preds, refs;
  std::string line;
  while (std::getline(in, line)) {
    json p = json::parse(line);
    preds.push_back(p.at("prediction"));
    refs.push_back(p.at("reference"));
  }
  auto out =
      score_dataset(preds, refs, req({"bleu", "chrf", "ter"}), BootstrapOptions{200, 7, 0.95});
  const json& c = out.corpus;
  EXPECT_NEAR(c.at("bleu").at("score").get<double>(), want.at("bleu").at("score").get<double>(),
              1e-9);
  EXPECT_EQ(c.at("bleu").at("counts"), want.at("bleu").at("counts"));
  EXPECT_EQ(c.at("bleu").at("sys_len"), want.at("bleu").at("sys_len"));
  EXPECT_NEAR(c.at("chrf").at("score").get<double>(), want.at("chrf").at("score").get<double>(),
              1e-9);
  EXPECT_NEAR(c.at("chrf_pp").at("score").get<double>(),
              want.at("chrf_pp").at("score").get<double>(), 1e-9);
  EXPECT_NEAR(c.at("ter").at("score").get<double>(), want.at("ter").at("score").get<double>(),
              1e-9);
  EXPECT_EQ(c.at("ter").at("num_edits").get<double>(),
            want.at("ter").at("num_edits").get<double>());
  for (const char* k : {"bleu", "chrf", "chrf_pp", "ter"}) {
    double lo = c.at(k).at("ci_low"), hi = c.at(k).at("ci_high"), s = c.at(k).at("score");
    EXPECT_LT(lo, s) << k;
    EXPECT_GT(hi, s) << k;
  }
  // Per-sample sentence_bleu equals the sentence goldens' mean (independent of the parallel split).
  double sum = 0;
  for (size_t i = 0; i < preds.size(); ++i) sum += sentence_bleu(preds[i], refs[i]).score;
  EXPECT_NEAR(out.summary.at("sentence_bleu").at("mean").get<double>(), sum / preds.size(), 1e-9);
  // Same inputs, same seed: identical output (no data races, reproducible CIs).
  auto again =
      score_dataset(preds, refs, req({"bleu", "chrf", "ter"}), BootstrapOptions{200, 7, 0.95});
  EXPECT_EQ(again.corpus, out.corpus);
  EXPECT_EQ(again.values, out.values);
}

TEST(ScorerTest, NoCorpusForMeanOnlyMetrics) {
  auto out =
      score_dataset({"a b"}, {"a b"}, req({"squad", "rouge"}), BootstrapOptions{10, 1, 0.95});
  EXPECT_TRUE(out.corpus.empty());
  EXPECT_EQ(out.values[0][0], 1.0);
}

TEST(ScorerTest, ModelMetricsAreTakenOutOrRejected) {
  std::vector<MetricRequest> req = {
      {"squad", nullptr}, {"perplexity", nullptr}, {"answer_tokens", nullptr}, {"chrf", nullptr}};
  std::vector<MetricRequest> rest = req;
  EXPECT_EQ(take_model_metrics(rest),
            (std::vector<std::string>{"answer_tokens", "ref_perplexity", "ref_bits_per_byte"}));
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].name, "squad");
  EXPECT_EQ(rest[1].name, "chrf");
  EXPECT_NO_THROW(resolve_metrics(rest));
  // Left in, they are an error that says why (evaluate score maps it to exit 2).
  try {
    resolve_metrics(req);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs the model"), std::string::npos) << e.what();
  }
  std::vector<MetricRequest> with_opts = {{"ref_perplexity", {{"x", 1}}}};
  EXPECT_THROW(take_model_metrics(with_opts), Error);
  // "all" stays string-only.
  auto all = resolve_metrics({{"all", nullptr}});
  EXPECT_EQ(std::find(all.begin(), all.end(), "ref_perplexity"), all.end());
}

TEST(ScorerTest, ProgressCallbackCountsEverySampleOnce) {
  std::vector<std::string> preds, refs;
  for (int i = 0; i < 5000; ++i) {
    preds.push_back("the cat sat on the mat " + std::to_string(i));
    refs.push_back("a cat sat on a mat " + std::to_string(i % 7));
  }
  std::atomic<size_t> seen{0}, calls{0};
  auto scored = score_dataset(preds, refs, {{"squad", nullptr}}, BootstrapOptions{0, 1, 0.95},
                              [&](size_t n) {
                                seen += n;
                                ++calls;
                              });
  EXPECT_EQ(seen.load(), preds.size());
  EXPECT_GE(calls.load(), 1u);
  EXPECT_LT(calls.load(), preds.size()) << "called per chunk, not per sample";
  EXPECT_EQ(scored.values.size(), preds.size());
}

}  // namespace
}  // namespace assay::scoring
