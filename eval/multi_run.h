// What `evaluate run` does with a whole config: one model, or several evaluated in turn (as the
// LLM-Engineers-Handbook evaluates its fine-tuned model, its DPO variant and the base instruct
// model together), each into <output>/<name>/ as a normal resumable run folder; then each model
// is compared with the baseline (eval/compare_command.h), and the CI gates decide the exit code.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "eval/config.h"
#include "eval/run_command.h"

namespace assay::eval {

// One entry of the config key `models`.
struct ModelEntry {
  std::string name;  // sub-folder name: letters, digits, '.', '_', '-' (not "." / ".." / *.json)
  std::string path;  // model folder, LoRA adapter or model.tar.gz ("" with dummy: bundled)
  std::string base_model;  // base model for a LoRA adapter; "" = the config's base_model
};

// Reads and validates `models` (and `baseline`): objects with "name" (unique), "path"
// (required unless dummy), optional "base_model"; unknown keys are errors with a suggestion.
// Returns an empty list when `models` is unset. Throws assay::Error (invalid input) naming the
// entry and field.
std::vector<ModelEntry> models_from_config(const ResolvedConfig& cfg);

// The baseline's name: `baseline`, or the last model. Throws assay::Error (invalid input) when
// `baseline` names no model.
std::string baseline_of(const ResolvedConfig& cfg, const std::vector<ModelEntry>& models);

// `evaluate run` with gates and several models. Validates the gates before anything is
// generated (exit 2 naming the gate). One model: run_run_command. Several: each in turn (a
// rerun resumes the unfinished ones and skips the completed), then compare-<a>-vs-<b>.json for
// every model a against the baseline b, compare.json for the first of them, and summary.json
// with "kind": "multi" in the parent folder. Returns the exit code: 0, 3 (a gate failed) or
// 130/143 (stopped by a signal; rerun to resume). Throws assay::Error like run_run_command.
int run_evaluation(const RunCommandOptions& options, std::ostream& out);

}  // namespace assay::eval
