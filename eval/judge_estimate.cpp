#include "eval/judge_estimate.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "judges/dummy_judge.h"
#include "judges/judge_runner.h"

namespace assay::eval {
using nlohmann::json;

std::uint64_t judge_calls_per_sample(const JudgeSettings& settings,
                                     const judges::Rubric& rubric) {
  const std::uint64_t orders = rubric.kind == judges::RubricKind::kPairwise ? 2 : 1;
  return orders * static_cast<std::uint64_t>(std::max(1, settings.repeats));
}

json JudgeEstimate::to_json() const {
  return {{"provider", provider},
          {"model", model},
          {"rubric", rubric},
          {"samples", samples},
          {"calls", calls},
          {"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"cost_usd", cost_usd ? json(*cost_usd) : json(nullptr)},
          {"counted_by", counted_by},
          {"answer_tokens", answer_tokens},
          {"reply_tokens", reply_tokens}};
}

std::optional<JudgeEstimate> estimate_judge(const RunSettings& settings, const Dataset& ds,
                                            const TokenCounter& count_tokens, int answer_tokens) {
  const JudgeSettings& js = settings.judge;
  if (js.provider.empty()) return std::nullopt;
  const judges::Rubric rubric = judges::load_rubric(js.rubric);
  // Rendered exactly as the judge stage renders them (the dummy provider is never asked).
  judges::DummyJudge offline;
  const judges::JudgeRunner renderer(rubric, offline, nullptr);
  auto count = [&](std::string_view text) -> std::int64_t {
    return static_cast<std::int64_t>(count_tokens ? count_tokens(text) : (text.size() + 3) / 4);
  };
  const bool pairwise = rubric.kind == judges::RubricKind::kPairwise;
  JudgeEstimate e;
  e.provider = js.provider;
  e.model = js.provider == "dummy" ? "dummy" : js.model;
  e.rubric = rubric.name;
  e.samples = ds.samples.size();
  e.counted_by = count_tokens ? "tokenizer" : "chars/4";
  e.answer_tokens = answer_tokens;
  e.reply_tokens =
      rubric.expected_reply_tokens > 0 ? rubric.expected_reply_tokens : rubric.max_tokens;
  const std::uint64_t per_sample = judge_calls_per_sample(js, rubric);
  const int orders = pairwise ? 2 : 1;
  for (const Sample& s : ds.samples) {
    judges::JudgeItem item;
    item.instruction = s.input.empty() ? s.instruction : s.instruction + "\n\n" + s.input;
    item.reference = s.reference;
    item.answer = s.prediction.value_or("");
    // Answers not known yet are rendered empty and counted as answer_tokens each.
    const int unknown_answers = (s.prediction ? 0 : 1) + (pairwise ? 1 : 0);
    std::int64_t tokens = 0;
    for (int o = 0; o < orders; ++o) {
      for (const json& m : renderer.render_messages(item, o)) {
        tokens += count(m.value("content", std::string()));
      }
      tokens += static_cast<std::int64_t>(unknown_answers) * answer_tokens;
    }
    e.prompt_tokens += tokens * static_cast<std::int64_t>(per_sample / orders);
  }
  e.calls = per_sample * e.samples;
  e.completion_tokens = static_cast<std::int64_t>(e.calls) * e.reply_tokens;
  // Several judges (`judges`): each asks the same prompts at its own price.
  const std::vector<JudgeSettings> panel =
      settings.judges.empty() ? std::vector<JudgeSettings>{js} : settings.judges;
  const std::int64_t one_prompt = e.prompt_tokens, one_completion = e.completion_tokens;
  const std::uint64_t one_calls = e.calls;
  e.cost_usd = 0.0;
  e.provider = panel.front().provider;
  e.model = e.provider == "dummy" ? "dummy" : panel.front().model;
  for (size_t k = 0; k < panel.size(); ++k) {
    const JudgeSettings& j = panel[k];
    const std::optional<double> cost =
        j.provider == "dummy" ? std::optional<double>(0.0)
                              : judges::cost_usd_of(j.prices, j.model, one_prompt, one_completion);
    if (e.cost_usd && cost) {
      *e.cost_usd += *cost;
    } else {
      e.cost_usd.reset();
    }
    if (k == 0) continue;
    e.provider += "," + j.provider;
    e.model += "," + (j.provider == "dummy" ? std::string("dummy") : j.model);
  }
  e.calls = one_calls * panel.size();
  e.prompt_tokens = one_prompt * static_cast<std::int64_t>(panel.size());
  e.completion_tokens = one_completion * static_cast<std::int64_t>(panel.size());
  return e;
}

void print_judge_estimate(const JudgeEstimate& e, const JudgeSettings& settings,
                          std::ostream& out) {
  char cost[64] = "unknown";
  if (e.cost_usd) std::snprintf(cost, sizeof cost, "%.4f USD", *e.cost_usd);
  out << "Judge estimate (no request sent): " << e.provider << " " << e.model << ", rubric "
      << e.rubric << "\n"
      << "  calls:             " << e.calls << " (" << e.samples << " samples x "
      << (e.samples == 0 ? 0 : e.calls / e.samples) << ")\n"
      << "  prompt tokens:     " << e.prompt_tokens << " (counted by " << e.counted_by
      << "; an answer not generated yet counted as " << e.answer_tokens << " tokens)\n"
      << "  completion tokens: " << e.completion_tokens << " (" << e.reply_tokens
      << " per call, the rubric's expected reply length)\n"
      << "  estimated cost:    " << cost;
  if (!e.cost_usd) out << " (no price for '" << e.model << "': add it to judge.prices)";
  out << "\n";
  if (settings.max_cost_usd > 0) {
    out << "  judge.max_cost_usd: " << settings.max_cost_usd << " USD"
        << (e.cost_usd && *e.cost_usd > settings.max_cost_usd
                ? " -- below the estimate: judging would stop early (judge_error kind budget)"
                : "")
        << "\n";
  }
}

}  // namespace assay::eval
