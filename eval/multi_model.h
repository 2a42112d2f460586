// The parent folder of a multi-model `evaluate run` (config key `models`): its identity, the
// comparison of every model with the baseline (compare-<a>-vs-<b>.json, and compare.json for the
// first), and its summary.json ("kind": "multi") and reports.
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "eval/plan.h"
#include "eval/run_folder.h"

namespace assay::eval {

// The parent folder's identity: the config hash, the model list and the baseline.
RunIdentity multi_run_identity(const RunPlan& plan);

// Records the model list and baseline in the parent's manifest.
void record_models(const RunPlan& plan, RunFolder& folder);

// Compares every non-baseline model with the baseline (paired bootstrap, eval/compare.h),
// writes the compare files into the parent folder, prints each table to `out`, and writes the
// parent's summary.json and reports. Throws assay::Error (i/o, invalid input).
void summarize_models(const RunPlan& plan, std::ostream& out);

// For a completed parent folder: prints the comparisons written before.
void print_model_comparisons(const RunPlan& plan, std::ostream& out);

}  // namespace assay::eval
