// What every stage of a run works on: the typed settings, the dataset, the run folder, the
// results gathered so far and the stop flag. A command (eval/commands/) fills a RunState and runs
// stages over it in order (eval/stages.h); no stage reads the environment, the flags or the
// container layout (eval/plan.h resolved those once).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/dataset.h"
#include "eval/judge_stage.h"
#include "eval/run_folder.h"
#include "eval/run_settings.h"
#include "scoring/aggregate.h"

namespace assay::eval {

class ModelHandle;

// The scores a run writes: per-sample metric values and their summaries.
struct RunScores {
  std::vector<nlohmann::json> metric_rows;            // per sample (dataset order): {"metric": v}
  nlohmann::json metrics = nlohmann::json::object();  // summary per metric (mean, CI, ...)
  nlohmann::json corpus = nlohmann::json::object();   // corpus metrics; omitted when empty
};

struct RunState {
  RunSettings settings;         // this run's settings (one model)
  Dataset ds;                   // the samples, in dataset order (after the dummy cut and the shard)
  RunFolder* folder = nullptr;  // the open run folder (not owned)
  ModelHandle* model = nullptr;  // `evaluate run`: the model, loaded on first use (not owned)
  bool resuming = false;         // the folder holds an unfinished attempt of the same run
  // `score`: every sample carries a reference field (perhaps empty) and all are scored; else
  // only the samples with a non-empty reference are.
  bool all_have_reference = false;
  // id -> its generations.jsonl record ("prompt", "output", "finish_reason", token counts).
  std::map<std::string, nlohmann::json> generations;
  RunScores scores;
  std::optional<JudgeStageOutput> judged;
  // Samples whose cached judge replies are not reused (--retry-judge-errors: their errors were
  // unparsable replies or refusals, which the cache would repeat).
  std::unordered_set<std::string> judge_bypass_ids;
  std::vector<std::string> loglik_columns;  // model metrics asked for (answer_tokens, perplexity)
  nlohmann::json summary_extra = nlohmann::json::object();  // more summary.json fields
  nlohmann::json timings = nlohmann::json::object();        // manifest.json "timings"
  const std::atomic<bool>* cancel = nullptr;                // true once SIGINT/SIGTERM arrived
  // The run's bootstrap resamples over its samples, drawn once on first use (bootstrap_draws())
  // and shared by every aggregate: metrics, corpus metrics, judge criteria, model metrics.
  std::optional<scoring::BootstrapDraws> draws;
};

// state.draws, drawn now if this is the first use (over state.ds.samples with
// state.settings.bootstrap).
const scoring::BootstrapDraws& bootstrap_draws(RunState& state);

// How a stage ended: done, or stopped by a signal (outputs flushed; a rerun resumes).
enum class StageOutcome { kDone, kStopped };

// The exit code of a run stopped by a signal: 143 for SIGTERM, 130 otherwise.
int stopped_exit_code();

// Runs a command's stages in `folder`: marks it running, then completed when `stages` returns
// kDone (returns 0), interrupted when it returns kStopped (returns 130/143), failed when it throws
// (and rethrows).
int run_in_folder(RunFolder& folder, const std::function<StageOutcome()>& stages);

// For a folder that already holds this run, completed: says so and prints its summary. Returns 0.
int report_already_completed(const RunFolder& folder, std::ostream& out);

// For a folder that holds this run (completed or not), reads the judge errors its scores.jsonl
// kept. With `retry_all` (--retry-judge-errors) the samples whose errors would repeat from the
// cache (unparsable replies, refusals) go to state.judge_bypass_ids. Returns true when a
// completed folder must run again: some errors are transient (the endpoint failed), or
// `retry_all` and some are lasting. Logs what it will retry.
bool judge_errors_to_retry(const RunFolder& folder, bool retry_all, RunState& state);

// After Summarize: records "judge_errors" (samples with a judge_error) in the manifest and, when
// there are some, prints a line to `out` and warns in the log. Throws assay::Error (remote:
// exit 4) naming the count when their share exceeds judge.max_error_rate; every output is
// written by then and run_in_folder marks the run failed, so a rerun retries them.
void check_judge_errors(RunState& state, std::ostream& out);

}  // namespace assay::eval
