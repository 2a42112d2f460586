#include "eval/judge_stage.h"

#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
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
      std::string key = std::to_string(static_cast<long long>(j.scores[c].score));
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

std::optional<JudgeStageOutput> run_judge_stage(
    const RunSettings& settings, const Dataset& ds, const fs::path& run_dir,
    const scoring::BootstrapDraws& draws, const std::unordered_set<std::string>& bypass_cache_ids) {
  const JudgeSettings& js = settings.judge;
  if (js.provider.empty()) return std::nullopt;
  judges::Rubric rubric = judges::load_rubric(js.rubric);

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

  std::unique_ptr<judges::ChatProvider> provider = judges::make_provider(js);
  std::optional<fs::path> shared;
  if (!js.cache_dir.empty()) shared = fs::path(js.cache_dir);
  judges::JudgeCache cache(run_dir / "judge_cache.jsonl", shared);
  Progress progress("judging", items.size());
  judges::JudgeRunnerOptions ro;
  ro.on_progress = [&progress](size_t settled, size_t) { progress.update(settled); };
  ro.bypass_cache_ids = bypass_cache_ids;
  ro.max_cost_usd = js.max_cost_usd;
  judges::JudgeRunner runner(rubric, *provider, &cache, ro);
  log::info("judging", {{"samples", items.size()},
                        {"provider", provider->name()},
                        {"model", provider->model()},
                        {"rubric", rubric.name},
                        {"cached_replies", cache.size()}});
  // From here SIGINT/SIGTERM stop the judging instead of killing the process: nothing new is
  // sent, requests in flight finish or time out (judge.timeout_s) and their replies are cached;
  // the command then exits 130/143, resumable.
  install_stop_signal_handlers();
  std::vector<judges::Judgment> judgments = runner.judge(items);
  progress.finish();

  JudgeStageOutput out;
  out.interrupted = global_stop_flag().load();
  size_t n_errors = 0, n_unsent = 0;
  for (const auto& j : judgments) {
    if (j.ok) {
      json entry = json::object();
      if (rubric.kind == judges::RubricKind::kPairwise) {
        entry["pairwise"] = {{"outcome", j.outcome},
                             {"verdict_ab", std::string(1, j.verdict_ab)},
                             {"verdict_ba", std::string(1, j.verdict_ba)}};
      }
      for (const auto& s : j.scores) {
        json score =
            s.score == std::floor(s.score) ? json(static_cast<long long>(s.score)) : json(s.score);
        entry[s.name] = {{"score", score}, {"analysis", s.analysis}};
      }
      out.per_sample.push_back({{"judges", entry}});
    } else {
      if (j.error->kind == "cancelled" || j.error->kind == "budget") {
        ++n_unsent;
      } else {
        ++n_errors;
      }
      out.per_sample.push_back({{"judge_error",
                                 {{"reason", j.error->reason},
                                  {"kind", j.error->kind},
                                  {"attempts", j.error->attempts},
                                  {"transient", j.error->transient}}}});
    }
  }
  out.judges = summarize_judgments(rubric, judgments, draws);
  const judges::JudgeUsage& u = runner.usage();
  out.judge_usage = {{"provider", provider->name()},
                     {"model", provider->model()},
                     {"rubric", rubric.name},
                     {"dummy", provider->name() == "dummy"},
                     {"calls", u.calls},
                     {"cache_hits", u.cache_hits},
                     {"retries", u.retries},
                     {"prompt_tokens", u.prompt_tokens},
                     {"completion_tokens", u.completion_tokens},
                     {"cost_usd", u.cost_usd ? json(*u.cost_usd) : json(nullptr)}};
  log::info(out.interrupted ? "judging stopped" : "judged",
            {{"judged", judgments.size() - n_errors - n_unsent},
             {"errors", n_errors},
             {"not_answered", n_unsent},
             {"calls", u.calls},
             {"cache_hits", u.cache_hits},
             {"retries", u.retries}});
  return out;
}

}  // namespace assay::eval
