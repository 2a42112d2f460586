// The judge stage of `evaluate score` (and later `evaluate run`): builds the configured provider
// through the registry (judges/registry.h), judges every sample through judges::JudgeRunner with
// the run folder's judge_cache.jsonl, and aggregates per criterion for summary.json.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/dataset.h"
#include "eval/human_labels.h"
#include "eval/run_settings.h"
#include "judges/judge_runner.h"
#include "judges/rubric.h"
#include "scoring/aggregate.h"

namespace assay::eval {

struct JudgeStageOutput {
  // Per sample, in dataset order: {"judges": {...}} or {"judge_error": {...}}, to merge into
  // the sample's scores.jsonl line.
  std::vector<nlohmann::json> per_sample;
  nlohmann::json judges;       // summary.json "judges"
  nlohmann::json judge_usage;  // summary.json "judge_usage" (several judges: totals + by_judge)
  // More summary.json sections: "judge_reliability" (always), "judges_by_name" (several judges:
  // each judge's own summary, as "judges").
  nlohmann::json extra = nlohmann::json::object();
  bool interrupted = false;  // a stop signal arrived: outputs are incomplete, rerun to resume
};

// Runs the judge stage, or returns nullopt when no judge is configured. Each judge of
// settings.judges (or settings.judge alone) judges every sample judge.repeats times; several
// judges are combined by settings.judge_combine; judge.calibration adds the human-label figures
// (eval/judge_reliability.h). The summaries are over
// `draws`, the run's bootstrap resamples of ds.samples. Samples whose id is in
// `bypass_cache_ids` are judged afresh even when the cache holds their replies. Throws
// assay::Error for a bad rubric (invalid input / not found), a dataset lacking what the rubric
// needs, a bad calibration file (invalid input, before any call), or an endpoint that refuses
// every request (remote).
std::optional<JudgeStageOutput> run_judge_stage(
    const RunSettings& settings, const Dataset& ds, const std::filesystem::path& run_dir,
    const scoring::BootstrapDraws& draws,
    const std::unordered_set<std::string>& bypass_cache_ids = {});

// The items to judge, one per sample in dataset order: the question, answer A (the prediction),
// the reference and, for a pairwise rubric, answer B (field settings.prediction_b_field). Throws
// assay::Error (invalid input) naming file:line:field for a missing reference or answer B.
std::vector<judges::JudgeItem> judge_items(const RunSettings& settings, const Dataset& ds,
                                           const judges::Rubric& rubric);

// The judge stage's tail over judgments already made (`evaluate merge` recomputes it over the
// union of shards): adds to out.judges (summarize_judgments of `judgments`, the combined ones)
// the repeat figures, several judges' agreement (`by_judge` in `names` order; 0 or 1 entries: one
// judge, whose repeats are in `judgments`), the LC win rate (pairwise) and the calibration
// (`labels`, else read from settings.judge_calibration when set), and fills out.extra
// (judge_reliability, judges_by_name). Throws assay::Error for a bad calibration file.
void add_reliability_sections(const RunSettings& settings, const judges::Rubric& rubric,
                              const std::vector<judges::JudgeItem>& items,
                              const std::vector<judges::Judgment>& judgments,
                              const std::vector<std::vector<judges::Judgment>>& by_judge,
                              const std::vector<std::string>& names,
                              const scoring::BootstrapDraws& draws, JudgeStageOutput& out,
                              std::optional<HumanLabels> labels = std::nullopt);

// The judge errors a finished run left in its scores.jsonl.
struct JudgeErrorsOnFile {
  size_t transient = 0;                         // samples whose error may pass: a rerun asks again
  std::unordered_set<std::string> lasting_ids;  // the others (unparsable replies, refusals)
};

// Reads `scores_file` (a missing file has no errors). A judge_error is transient when its
// "transient" field says so; older files without it: kinds transport, envelope and cancelled,
// and http 408/429/5xx. Throws assay::Error (i/o, or invalid input for a corrupt line).
JudgeErrorsOnFile judge_errors_on_file(const std::filesystem::path& scores_file);

// summary.json's "judges" from the judgments of every sample, as run_judge_stage computes it
// (per criterion: mean, CI over `draws` (one sample per judgment), distribution, errors; pairwise:
// win/tie/loss rates). A failed judgment is a missing value. `evaluate merge`
// recomputes it over the union of shards with this.
nlohmann::json summarize_judgments(const judges::Rubric& rubric,
                                   const std::vector<judges::Judgment>& judgments,
                                   const scoring::BootstrapDraws& draws);

}  // namespace assay::eval
