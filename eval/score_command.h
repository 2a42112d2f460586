// `evaluate score`: scores a dataset that already holds predictions (as fmeval scores a
// model_output_location) and writes the run folder: manifest.json, scores.jsonl, summary.json.
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/config.h"
#include "eval/dataset.h"
#include "eval/judge_stage.h"
#include "scoring/aggregate.h"

namespace assay::eval {

struct ScoreCommandOptions {
  ConfigSources sources;   // config file, environment, flags
  bool overwrite = false;  // replace a different run in the output folder
};

// Runs the command; prints the summary table to `out`. Returns the exit code (0). Throws
// assay::Error for bad input or failures (the manifest then records the failure).
int run_score_command(const ScoreCommandOptions& options, std::ostream& out);

// The scores a run writes, shared by `evaluate score` and `evaluate run`.
struct RunScores {
  std::vector<nlohmann::json> metric_rows;     // per sample (dataset order): {"metric": value}
  nlohmann::json metrics = nlohmann::json::object();  // summary per metric (mean, CI, ...)
  nlohmann::json corpus = nlohmann::json::object();   // corpus metrics; omitted when empty
  const JudgeStageOutput* judged = nullptr;    // judge results, or nullptr when no judge ran
};

// Writes scores.jsonl (id, metrics, judge fields per sample) and summary.json (schema version,
// command, metrics, bootstrap settings, corpus, judges, plus `extra` fields) atomically into
// `dir`, then report.md and report.html (eval/report.h; a failure there is only logged).
// Returns the summary written. Throws assay::Error (i/o).
nlohmann::json write_scores_and_summary(const std::filesystem::path& dir,
                                        const std::string& command, const Dataset& ds,
                                        const RunScores& scores,
                                        const scoring::BootstrapOptions& bootstrap,
                                        const nlohmann::json& extra = nlohmann::json::object());

// Prints a summary.json as a table: metric, mean, 95% CI, n.
void print_summary(const nlohmann::json& summary, std::ostream& out);

}  // namespace assay::eval
