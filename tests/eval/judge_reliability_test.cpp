// Combining several judges (mean, majority) and the repeat figures, on hand-made judgments.
#include "eval/judge_reliability.h"

#include <gtest/gtest.h>

#include <cmath>

#include "eval/judge_estimate.h"
#include "eval/run_settings.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {

judges::Judgment scored(std::vector<double> repeats) {
  judges::Judgment j;
  j.ok = true;
  double sum = 0;
  for (double r : repeats) {
    j.repeat_scores.push_back({{"accuracy", r, ""}});
    sum += r;
  }
  j.scores = {{"accuracy", sum / static_cast<double>(repeats.size()), ""}};
  return j;
}

judges::Rubric one_criterion() {
  judges::Rubric r;
  r.name = "t";
  r.criteria = {{"accuracy", 1, 3}};
  return r;
}

TEST(JudgeReliabilityTest, CombineMeanAndMajority) {
  const judges::Rubric rubric = one_criterion();
  // Three judges on two samples: (1, 1, 3) and (1, 2, 3).
  std::vector<std::vector<judges::Judgment>> by_judge = {
      {scored({1}), scored({1})}, {scored({1}), scored({2})}, {scored({3}), scored({3})}};
  auto mean = combine_judgments(rubric, by_judge, "mean");
  EXPECT_DOUBLE_EQ(mean[0].scores[0].score, 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(mean[1].scores[0].score, 2.0);
  auto majority = combine_judgments(rubric, by_judge, "majority");
  EXPECT_DOUBLE_EQ(majority[0].scores[0].score, 1.0);  // two of three said 1
  EXPECT_DOUBLE_EQ(majority[1].scores[0].score, 2.0);  // no majority: the median
  // A judge that failed fails the combined sample.
  by_judge[1][0].ok = false;
  by_judge[1][0].error = judges::JudgeError{"boom", "http", 1, true};
  auto failed = combine_judgments(rubric, by_judge, "mean");
  EXPECT_FALSE(failed[0].ok);
  EXPECT_EQ(failed[0].error->reason, "boom");
}

// By hand: sample 1 repeats (1, 1, 1): agreement 1, sd 0, no flip; sample 2 (1, 2, 2): pairs
// (1,2) (1,2) (2,2), agreement 1/3, sd sqrt(((1-5/3)^2 + 2 (1/3)^2) / 2) = sqrt(1/3), a flip.
TEST(JudgeReliabilityTest, RepeatFiguresByHand) {
  const judges::Rubric rubric = one_criterion();
  const std::vector<judges::Judgment> js = {scored({1, 1, 1}), scored({1, 2, 2})};
  nlohmann::json summary = {{"accuracy", nlohmann::json::object()}};
  add_repeat_figures(rubric, js, 3, summary);
  const auto& e = summary["accuracy"];
  EXPECT_EQ(e["repeats"], 3);
  EXPECT_NEAR(e["agreement"].get<double>(), (1.0 + 1.0 / 3.0) / 2.0, 1e-12);
  EXPECT_NEAR(e["repeat_sd"].get<double>(), std::sqrt(1.0 / 3.0) / 2.0, 1e-12);
  EXPECT_NEAR(e["flip_rate"].get<double>(), 0.5, 1e-12);
  EXPECT_EQ(reliability_overview(summary)["agreement"], e["agreement"]);
  EXPECT_TRUE(reliability_overview(summary)["kappa"].is_null());
}

// --estimate: judge.repeats and several judges multiply the calls; each judge's price counts.
TEST(JudgeReliabilityTest, EstimateMultipliesRepeatsAndJudges) {
  testing::TempDir dir;
  const auto data = dir.write("d.jsonl",
                              "{\"id\": \"a\", \"instruction\": \"q\", \"output\": \"r\", "
                              "\"prediction\": \"p\"}\n"
                              "{\"id\": \"b\", \"instruction\": \"q2\", \"output\": \"r\", "
                              "\"prediction\": \"p2\"}\n");
  DatasetNeeds needs;
  needs.prediction = true;
  const Dataset ds = load_dataset(data.string(), DatasetFields{}, needs);
  ConfigSources src;
  src.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  src.flags = {{"judge.provider", "dummy"}};
  const auto one = estimate_judge(run_settings_from(resolve_config(src)), ds, {}, 10);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->calls, 2u);
  src.flags = {{"judge.repeats", 3}, {"judges", nlohmann::json::parse(R"([{"provider": "dummy"},
                   {"name": "b", "provider": "dummy", "model": "dummy-b"}])")}};
  const auto many = estimate_judge(run_settings_from(resolve_config(src)), ds, {}, 10);
  ASSERT_TRUE(many.has_value());
  EXPECT_EQ(many->calls, 2u * 3u * 2u);
  EXPECT_EQ(many->prompt_tokens, one->prompt_tokens * 6);
  EXPECT_EQ(many->provider, "dummy,dummy");
  EXPECT_EQ(many->cost_usd, 0.0);
}

}  // namespace
}  // namespace assay::eval
