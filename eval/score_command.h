// `evaluate score`: scores a dataset that already holds predictions (as fmeval scores a
// model_output_location) and writes the run folder: manifest.json, scores.jsonl, summary.json.
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "eval/config.h"

namespace assay::eval {

struct ScoreCommandOptions {
  ConfigSources sources;   // config file, environment, flags
  bool overwrite = false;  // replace a different run in the output folder
};

// Runs the command; prints the summary table to `out`. Returns the exit code (0). Throws
// assay::Error for bad input or failures (the manifest then records the failure).
int run_score_command(const ScoreCommandOptions& options, std::ostream& out);

// Prints a summary.json as a table: metric, mean, 95% CI, n.
void print_summary(const nlohmann::json& summary, std::ostream& out);

}  // namespace assay::eval
