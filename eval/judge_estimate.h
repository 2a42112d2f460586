// `evaluate run --estimate`: how many judge calls a run would make and what they would cost,
// without making any. Prompt tokens are counted on the judge prompts as the judge stage renders
// them (with the model's tokenizer when one is given, else chars/4), each answer not yet
// generated taken as generation.max_new_tokens long (an upper bound); completion tokens are the
// rubric's expected reply length; the price is the judge model's from judge.prices.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "eval/dataset.h"
#include "eval/run_settings.h"
#include "judges/rubric.h"

namespace assay::eval {

// Judge requests one sample costs one judge: 2 for a pairwise rubric (both orders), else 1, times
// judge.repeats. The one place that says it; estimate_judge multiplies it by the judges.
std::uint64_t judge_calls_per_sample(const JudgeSettings& settings, const judges::Rubric& rubric);

// Counts the tokens of a text (the evaluated model's tokenizer), or empty for chars/4.
using TokenCounter = std::function<std::size_t(std::string_view text)>;

struct JudgeEstimate {
  std::string provider, model, rubric;
  std::size_t samples = 0;
  std::uint64_t calls = 0;
  std::int64_t prompt_tokens = 0;      // over every call
  std::int64_t completion_tokens = 0;  // calls x the rubric's expected reply length
  std::optional<double> cost_usd;      // nullopt when the judge model has no price
  std::string counted_by;              // "tokenizer" or "chars/4"
  int answer_tokens = 0;               // tokens assumed for each answer not in the dataset
  int reply_tokens = 0;                // the rubric's expected reply length

  nlohmann::json to_json() const;
};

// The estimate for judging `ds` under `settings` (no judge configured: nullopt). Answers come
// from the dataset's prediction fields when present, else count as `answer_tokens` tokens
// (generation.max_new_tokens for `run`). Throws assay::Error for a bad rubric.
std::optional<JudgeEstimate> estimate_judge(const RunSettings& settings, const Dataset& ds,
                                            const TokenCounter& count_tokens, int answer_tokens);

// Prints the estimate for people: calls, tokens, cost, what it assumed, and the cap.
void print_judge_estimate(const JudgeEstimate& e, const JudgeSettings& settings, std::ostream& out);

}  // namespace assay::eval
