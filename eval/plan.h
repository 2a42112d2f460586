// The run plan: every source of settings (defaults < container layout < config file <
// hyperparameters < environment < flags) resolved and validated once, before any work starts.
// Nothing downstream reads the environment, the flags or the container layout again.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "eval/config.h"
#include "eval/container.h"
#include "eval/gates.h"
#include "eval/prompt.h"
#include "eval/run_settings.h"
#include "eval/shard.h"

namespace assay::eval {

// What a command hands the planner.
struct PlanRequest {
  std::string command = "run";  // "run" or "score"
  ConfigSources sources;        // config file, environment, flags
  ContainerLayout container;    // detect_container()'s result; Contract::kNone outside one
  std::string shard;            // --shard "i/n"; "" = resourceconfig.json's, else the whole set
  bool overwrite = false;       // replace a different run in the output folder
  // --retry-judge-errors: judge again every sample with a judge_error, not only transient ones.
  bool retry_judge_errors = false;
};

// One entry of the config key `models`.
struct ModelEntry {
  std::string name;  // sub-folder name: letters, digits, '.', '_', '-' (not "." / ".." / *.json)
  std::string path;  // model folder, LoRA adapter or model.tar.gz ("" with dummy: bundled)
  std::string base_model;  // base model for a LoRA adapter; "" = the config's base_model
};

// One model of a run: its own resolved config and settings and where its run folder is.
struct ModelPlan {
  std::string name;  // sub-folder name in a multi-model run; "" for a single model
  ResolvedConfig config;
  RunSettings settings;              // settings.output is this model's run folder (shard applied)
  std::filesystem::path model_path;  // `run`: the model (the bundled one for a dummy run)
  std::vector<std::string> loglik_columns;  // model metrics (taken out of settings.metrics)
  std::optional<PromptBuilder> prompts;     // the fixed prompt format; nullopt = "auto"
};

struct RunPlan {
  std::string command;
  ContainerLayout container;
  ResolvedConfig config;  // the whole run's config
  RunSettings settings;
  ShardSpec shard;                  // this host's shard (count 1: the whole dataset)
  std::vector<ModelPlan> models;    // `run`: one per model; `score`: one
  std::vector<ModelEntry> entries;  // multi: the `models` entries as configured
  bool multi = false;               // `models` was set: a parent folder over per-model folders
  std::string baseline;             // multi: the model the others are compared with
  std::filesystem::path output;     // the run folder, or a multi-model run's parent folder
  std::vector<Gate> gates;          // validated against what the run will produce
  bool overwrite = false;
  bool retry_judge_errors = false;  // PlanRequest's
};

// Resolves and validates everything. Throws assay::Error (invalid input / not found) naming the
// file, key or flag at fault, as each check did before: container inputs, config keys and types,
// `models` and `baseline`, gates against the metrics, judge criteria and models the run will
// produce, the dataset / output / model being set, the prompt template, and (`score`) the metric
// names.
RunPlan plan_run(PlanRequest request);

// Reads and validates `models`: objects with "name" (unique), "path" (required unless dummy),
// optional "base_model"; unknown keys are errors with a suggestion. Empty when `models` is unset.
// Throws assay::Error (invalid input) naming the entry and field.
std::vector<ModelEntry> models_from_config(const ResolvedConfig& cfg);

// The baseline's name: `baseline`, or the last model. Throws assay::Error (invalid input) when
// `baseline` names no model, or is set without `models`.
std::string baseline_of(const ResolvedConfig& cfg, const std::vector<ModelEntry>& models);

}  // namespace assay::eval
