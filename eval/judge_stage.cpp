#include "eval/judge_stage.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "eval/human_labels.h"
#include "eval/judge_reliability.h"
#include "judges/judge_cache.h"
#include "judges/judge_runner.h"
#include "judges/registry.h"
#include "scoring/aggregate.h"

namespace assay::eval {
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json criteria_summary(const judges::Rubric& rubric, const std::vector<judges::Judgment>& js,
                      const json& errors_by_kind, size_t n_errors,
                      const scoring::BootstrapDraws& draws) {
  // Scores row-major [sample][criterion]; NaN for a sample the judge failed on.
  const size_t width = rubric.criteria.size();
  std::vector<double> rows(js.size() * width, std::numeric_limits<double>::quiet_NaN());
  for (size_t i = 0; i < js.size(); ++i) {
    if (!js[i].ok) continue;
    for (size_t c = 0; c < width; ++c) rows[i * width + c] = js[i].scores[c].score;
  }
  const std::vector<scoring::MeanSummary> means = scoring::summarize_means(rows, width, draws);
  json out = json::object();
  for (size_t c = 0; c < width; ++c) {
    const judges::Criterion& crit = rubric.criteria[c];
    json dist = json::object();
    for (int v = crit.min; v <= crit.max; ++v) dist[std::to_string(v)] = 0;
    for (const auto& j : js) {
      if (!j.ok) continue;
      // Several judges or repeats give fractional means: counted at the nearest scale point.
      std::string key = std::to_string(std::llround(j.scores[c].score));
      dist[key] = dist[key].get<int>() + 1;
    }
    const scoring::MeanSummary& m = means[c];
    json entry = {{"n", m.n},
                  {"n_errors", n_errors},
                  {"errors_by_reason", errors_by_kind},
                  {"distribution", dist},
                  {"min", crit.min},
                  {"max", crit.max}};
    if (m.n > 0) {
      entry["mean"] = m.mean;
      entry["ci_low"] = m.ci_low;
      entry["ci_high"] = m.ci_high;
    } else {
      entry["mean"] = entry["ci_low"] = entry["ci_high"] = nullptr;  // nothing judged: no number
    }
    out[crit.name] = entry;
  }
  return out;
}

json pairwise_summary(const std::vector<judges::Judgment>& js, const json& errors_by_kind,
                      size_t n_errors, const scoring::BootstrapDraws& draws) {
  size_t wins = 0, ties = 0, losses = 0, consistent = 0, n = 0;
  // Per sample: win 1, tie 0.5, loss 0; NaN where the judge failed.
  std::vector<double> adjusted(js.size(), std::numeric_limits<double>::quiet_NaN());
  for (size_t i = 0; i < js.size(); ++i) {
    const judges::Judgment& j = js[i];
    if (!j.ok) continue;
    ++n;
    if (j.outcome == "win") ++wins;
    if (j.outcome == "tie") ++ties;
    if (j.outcome == "loss") ++losses;
    if (j.verdict_ab == j.verdict_ba) ++consistent;
    adjusted[i] = j.outcome == "win" ? 1.0 : j.outcome == "tie" ? 0.5 : 0.0;
  }
  json entry = {{"n", n},
                {"n_errors", n_errors},
                {"errors_by_reason", errors_by_kind},
                {"distribution", {{"win", wins}, {"tie", ties}, {"loss", losses}}}};
  if (n == 0) {
    for (const char* k :
         {"mean", "ci_low", "ci_high", "win_rate", "tie_rate", "loss_rate", "consistency"}) {
      entry[k] = nullptr;
    }
    return {{"pairwise", entry}};
  }
  scoring::MeanSummary m = scoring::summarize_mean(adjusted, draws);
  double dn = static_cast<double>(n);
  entry["mean"] = m.mean;  // win rate with a tie counted as half a win (FastChat win_rate_adjusted)
  entry["ci_low"] = m.ci_low;
  entry["ci_high"] = m.ci_high;
  entry["win_rate"] = static_cast<double>(wins) / dn;
  entry["tie_rate"] = static_cast<double>(ties) / dn;
  entry["loss_rate"] = static_cast<double>(losses) / dn;
  entry["consistency"] = static_cast<double>(consistent) / dn;  // both orders gave one verdict
  return {{"pairwise", entry}};
}

}  // namespace

json summarize_judgments(const judges::Rubric& rubric,
                         const std::vector<judges::Judgment>& judgments,
                         const scoring::BootstrapDraws& draws) {
  std::map<std::string, size_t> by_kind;
  size_t n_errors = 0;
  for (const auto& j : judgments) {
    if (j.ok) continue;
    ++n_errors;
    ++by_kind[j.error ? j.error->kind : std::string("unknown")];
  }
  json errors_by_kind = json::object();
  for (const auto& [k, v] : by_kind) errors_by_kind[k] = v;
  return rubric.kind == judges::RubricKind::kPairwise
             ? pairwise_summary(judgments, errors_by_kind, n_errors, draws)
             : criteria_summary(rubric, judgments, errors_by_kind, n_errors, draws);
}

JudgeErrorsOnFile judge_errors_on_file(const fs::path& scores_file) {
  JudgeErrorsOnFile out;
  std::error_code ec;
  if (!fs::exists(scores_file, ec)) return out;
  for (const auto& rec : read_jsonl(scores_file, TornTail::kDrop).records) {
    if (!rec.value.is_object() || !rec.value.contains("judge_error")) continue;
    const json& e = rec.value["judge_error"];
    bool transient = false;
    if (e.is_object() && e.contains("transient") && e["transient"].is_boolean()) {
      transient = e["transient"].get<bool>();
    } else if (e.is_object()) {
      const std::string kind = e.value("kind", std::string());
      const std::string reason = e.value("reason", std::string());
      transient =
          kind == "transport" || kind == "envelope" || kind == "cancelled" ||
          (kind == "http" && (reason.starts_with("http 408") || reason.starts_with("http 429") ||
                              reason.starts_with("http 5")));
    }
    if (transient) {
      ++out.transient;
    } else {
      const json& id = rec.value.contains("id") ? rec.value["id"] : json();
      out.lasting_ids.insert(id.is_string() ? id.get<std::string>() : id.dump());
    }
  }
  return out;
}

namespace {

// One judgment as its scores.jsonl entry: {"judges": {...}} or {"judge_error": {...}}.
json sample_entry(const judges::Rubric& rubric, const judges::Judgment& j) {
  if (!j.ok) {
    return {{"judge_error",
             {{"reason", j.error->reason},
              {"kind", j.error->kind},
              {"attempts", j.error->attempts},
              {"transient", j.error->transient}}}};
  }
  json entry = json::object();
  if (rubric.kind == judges::RubricKind::kPairwise) {
    entry["pairwise"] = {{"outcome", j.outcome},
                         {"verdict_ab", std::string(1, j.verdict_ab)},
                         {"verdict_ba", std::string(1, j.verdict_ba)}};
    if (j.repeat_outcomes.size() > 1) entry["pairwise"]["repeat_outcomes"] = j.repeat_outcomes;
  }
  auto number = [](double v) {
    return v == std::floor(v) ? json(static_cast<long long>(v)) : json(v);
  };
  for (size_t c = 0; c < j.scores.size(); ++c) {
    const auto& s = j.scores[c];
    entry[s.name] = {{"score", number(s.score)}, {"analysis", s.analysis}};
    if (j.repeat_scores.size() > 1) {
      json reps = json::array();
      for (const auto& r : j.repeat_scores) reps.push_back(number(r[c].score));
      entry[s.name]["repeats"] = reps;
    }
  }
  return {{"judges", entry}};
}

json usage_json(const judges::ChatProvider& provider, const judges::Rubric& rubric,
                const judges::JudgeUsage& u) {
  return {{"provider", provider.name()},
          {"model", provider.model()},
          {"rubric", rubric.name},
          {"dummy", provider.name() == "dummy"},
          {"calls", u.calls},
          {"cache_hits", u.cache_hits},
          {"retries", u.retries},
          {"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"cost_usd", u.cost_usd ? json(*u.cost_usd) : json(nullptr)}};
}

// Several judges' usage: the counts and costs summed (cost null when any is unknown), the
// providers and models joined, and each judge's own under "by_judge".
json total_usage(const std::vector<std::string>& names, const std::vector<json>& usages) {
  json out = usages.front();
  std::string providers, models;
  bool dummy = true;
  double cost = 0;
  bool cost_known = true;
  for (const char* k : {"calls", "cache_hits", "retries", "prompt_tokens", "completion_tokens"})
    out[k] = 0;
  json by = json::object();
  for (size_t k = 0; k < usages.size(); ++k) {
    const json& u = usages[k];
    for (const char* f : {"calls", "cache_hits", "retries", "prompt_tokens", "completion_tokens"}) {
      out[f] = out[f].get<std::int64_t>() + u[f].get<std::int64_t>();
    }
    providers += (k ? "," : "") + u["provider"].get<std::string>();
    models += (k ? "," : "") + u["model"].get<std::string>();
    dummy = dummy && u["dummy"].get<bool>();
    cost_known = cost_known && u["cost_usd"].is_number();
    if (cost_known) cost += u["cost_usd"].get<double>();
    by[names[k]] = u;
  }
  out["provider"] = providers;
  out["model"] = models;
  out["dummy"] = dummy;
  out["cost_usd"] = cost_known ? json(cost) : json(nullptr);
  out["by_judge"] = by;
  return out;
}

// The combined summary of several judges carries the weakest judge's self-consistency.
void worst_repeat_figures(const json& by_name, json& combined) {
  for (auto it = combined.begin(); it != combined.end(); ++it) {
    for (const auto& [field, highest] :
         std::vector<std::pair<std::string, bool>>{{"agreement", false},
                                                   {"repeat_alpha", false},
                                                   {"repeat_sd", true},
                                                   {"flip_rate", true},
                                                   {"repeats", true}}) {
      std::optional<double> v;
      for (auto jt = by_name.begin(); jt != by_name.end(); ++jt) {
        const json& f = jt.value().value(it.key(), json::object()).value(field, json());
        if (!f.is_number()) continue;
        const double x = f.get<double>();
        if (!v || (highest ? x > *v : x < *v)) v = x;
      }
      if (v) it.value()[field] = field == "repeats" ? json(static_cast<int>(*v)) : json(*v);
    }
  }
}

}  // namespace

std::vector<judges::JudgeItem> judge_items(const RunSettings& settings, const Dataset& ds,
                                           const judges::Rubric& rubric) {
  std::vector<judges::JudgeItem> items(ds.samples.size());
  for (size_t i = 0; i < ds.samples.size(); ++i) {
    const Sample& s = ds.samples[i];
    items[i].id = s.id;
    items[i].instruction = s.input.empty() ? s.instruction : s.instruction + "\n\n" + s.input;
    items[i].answer = s.prediction.value_or("");
    items[i].reference = s.reference;
    if (rubric.needs_reference && s.reference.empty()) {
      throw_invalid(ds.path + ":" + std::to_string(s.line) + ": rubric '" + rubric.name +
                    "' needs a reference answer (field '" + settings.fields.reference + "')");
    }
  }
  if (rubric.kind == judges::RubricKind::kPairwise) {
    // Answer B comes from the same dataset, field fields.prediction_b (one reader, same checks).
    DatasetFields b_fields = settings.fields;
    b_fields.prediction = settings.prediction_b_field;
    DatasetNeeds needs;
    needs.prediction = true;
    Dataset b = load_dataset(ds.path, b_fields, needs);
    ASSAY_CHECK(b.samples.size() == items.size());
    for (size_t i = 0; i < items.size(); ++i) items[i].answer_b = *b.samples[i].prediction;
  }
  return items;
}

void add_reliability_sections(const RunSettings& settings, const judges::Rubric& rubric,
                              const std::vector<judges::JudgeItem>& items,
                              const std::vector<judges::Judgment>& judgments,
                              const std::vector<std::vector<judges::Judgment>>& by_judge,
                              const std::vector<std::string>& names,
                              const scoring::BootstrapDraws& draws, JudgeStageOutput& out,
                              std::optional<HumanLabels> labels) {
  const int repeats = settings.judge.repeats;
  if (by_judge.size() <= 1) {
    add_repeat_figures(rubric, by_judge.empty() ? judgments : by_judge.front(), repeats,
                       out.judges);
  } else {
    json by_name = json::object();
    for (size_t k = 0; k < by_judge.size(); ++k) {
      json s = summarize_judgments(rubric, by_judge[k], draws);
      add_repeat_figures(rubric, by_judge[k], repeats, s);
      by_name[names[k]] = std::move(s);
    }
    worst_repeat_figures(by_name, out.judges);
    add_judge_agreement(rubric, by_judge, out.judges);
    out.extra["judges_by_name"] = std::move(by_name);
  }
  if (rubric.kind == judges::RubricKind::kPairwise) {
    std::vector<std::string> a, b;
    for (const auto& it : items) {
      a.push_back(it.answer);
      b.push_back(it.answer_b);
    }
    add_length_controlled(judgments, a, b, draws, out.judges);
  }
  if (!labels && !settings.judge_calibration.empty()) {
    labels = load_human_labels(settings.judge_calibration, rubric);
  }
  json overview = json::object();
  if (labels) {
    std::vector<std::string> ids;
    for (const auto& it : items) ids.push_back(it.id);
    const size_t unknown =
        add_calibration(rubric, judgments, ids, *labels, draws.options().confidence, out.judges);
    if (unknown > 0) {
      log::warn("calibration labels for samples not in this run are ignored",
                {{"file", labels->path}, {"unknown_ids", unknown}});
    }
    overview["calibration"] = {{"file", labels->path}, {"unknown_ids", unknown}};
  }
  overview.update(reliability_overview(out.judges));
  overview["judges"] = names;
  overview["repeats"] = repeats;
  overview["combine"] = by_judge.size() > 1 ? json(settings.judge_combine) : json(nullptr);
  out.extra["judge_reliability"] = std::move(overview);
}

std::optional<JudgeStageOutput> run_judge_stage(
    const RunSettings& settings, const Dataset& ds, const fs::path& run_dir,
    const scoring::BootstrapDraws& draws, const std::unordered_set<std::string>& bypass_cache_ids) {
  if (settings.judge.provider.empty()) return std::nullopt;
  const std::vector<JudgeSettings> panel =
      settings.judges.empty() ? std::vector<JudgeSettings>{settings.judge} : settings.judges;
  judges::Rubric rubric = judges::load_rubric(settings.judge.rubric);

  const std::vector<judges::JudgeItem> items = judge_items(settings, ds, rubric);
  // Read the human labels before any call, so a bad file costs nothing.
  std::optional<HumanLabels> labels;
  if (!settings.judge_calibration.empty()) {
    labels = load_human_labels(settings.judge_calibration, rubric);
  }

  std::optional<fs::path> shared;
  if (!settings.judge.cache_dir.empty()) shared = fs::path(settings.judge.cache_dir);
  judges::JudgeCache cache(run_dir / "judge_cache.jsonl", shared);
  // From here SIGINT/SIGTERM stop the judging instead of killing the process: nothing new is
  // sent, requests in flight finish or time out (judge.timeout_s) and their replies are cached;
  // the command then exits 130/143, resumable.
  install_stop_signal_handlers();
  std::vector<std::vector<judges::Judgment>> by_judge;
  std::vector<std::string> names;
  std::vector<json> usages;
  double spent_before = 0;  // USD the judges before this one spent (unknown prices: 0)
  for (const JudgeSettings& js : panel) {
    std::unique_ptr<judges::ChatProvider> provider = judges::make_provider(js);
    const std::string name = js.name.empty() ? provider->name() + ":" + provider->model() : js.name;
    Progress progress(panel.size() > 1 ? "judging (" + name + ")" : std::string("judging"),
                      items.size());
    judges::JudgeRunnerOptions ro;
    ro.on_progress = [&progress](size_t settled, size_t) { progress.update(settled); };
    ro.bypass_cache_ids = bypass_cache_ids;
    ro.repeats = js.repeats;
    // judge.max_cost_usd caps the run: each judge may spend what the judges before it left.
    if (js.max_cost_usd > 0) {
      ro.max_cost_usd = std::max(js.max_cost_usd - spent_before,
                                 std::numeric_limits<double>::min());
    }
    judges::JudgeRunner runner(rubric, *provider, &cache, ro);
    log::info("judging", {{"samples", items.size()},
                          {"judge", name},
                          {"provider", provider->name()},
                          {"model", provider->model()},
                          {"rubric", rubric.name},
                          {"repeats", js.repeats},
                          {"cached_replies", cache.size()}});
    by_judge.push_back(runner.judge(items));
    progress.finish();
    names.push_back(name);
    usages.push_back(usage_json(*provider, rubric, runner.usage()));
    spent_before += runner.usage().cost_usd.value_or(0.0);
  }

  JudgeStageOutput out;
  out.interrupted = global_stop_flag().load();
  const std::vector<judges::Judgment> judgments =
      by_judge.size() == 1 ? by_judge.front()
                           : combine_judgments(rubric, by_judge, settings.judge_combine);
  size_t n_errors = 0, n_unsent = 0;
  for (size_t i = 0; i < judgments.size(); ++i) {
    const judges::Judgment& j = judgments[i];
    if (!j.ok) {
      ++(j.error->kind == "cancelled" || j.error->kind == "budget" ? n_unsent : n_errors);
    }
    json entry = sample_entry(rubric, j);
    if (by_judge.size() > 1) {
      json each = json::object();
      for (size_t k = 0; k < by_judge.size(); ++k) {
        json e = sample_entry(rubric, by_judge[k][i]);
        each[names[k]] = e.contains("judges") ? e["judges"] : e;
      }
      entry["judges_by_name"] = each;
    }
    out.per_sample.push_back(std::move(entry));
  }
  out.judges = summarize_judgments(rubric, judgments, draws);
  out.judge_usage = by_judge.size() == 1 ? usages.front() : total_usage(names, usages);
  add_reliability_sections(settings, rubric, items, judgments, by_judge, names, draws, out, labels);
  log::info(out.interrupted ? "judging stopped" : "judged",
            {{"judged", judgments.size() - n_errors - n_unsent},
             {"errors", n_errors},
             {"not_answered", n_unsent},
             {"calls", out.judge_usage["calls"]},
             {"cache_hits", out.judge_usage["cache_hits"]},
             {"retries", out.judge_usage["retries"]}});
  return out;
}

}  // namespace assay::eval
