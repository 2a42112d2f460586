// Run-vs-run comparison (`evaluate compare RUN_A RUN_B`, and a multi-model run against its
// baseline): model A against model B on the same samples. Pairs the two run
// folders' scores.jsonl lines by sample id and reports, per metric, A, B, diff = A − B, a paired
// percentile-bootstrap CI of the diff and a one-sided bootstrap p-value (scoring/compare.h), for
// per-sample metrics, judge criteria and corpus BLEU/chrF/chrF++/TER (recomputed from summed
// statistics on each resample). Writes compare.json (schema: docs/compare-schema.md).
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/config.h"
#include "scoring/aggregate.h"

namespace assay::eval {

inline constexpr int kCompareSchema = 1;

struct CompareOptions {
  std::filesystem::path run_a;  // run folder of model A (scores.jsonl, summary.json, ...)
  std::filesystem::path run_b;  // run folder of model B
  std::string name_a;           // label of A in compare.json; "" = A's folder name
  std::string name_b;           // label of B; "" = B's folder name
  // Metrics to compare: per-sample names (rougeL_f), "judge.NAME" or "judge" (every criterion),
  // "corpus.NAME" or "corpus" (every corpus metric). Empty: everything both runs have.
  std::vector<std::string> metrics;
  scoring::BootstrapOptions bootstrap;  // resamples, seed, confidence of the paired bootstrap
  // Compare anyway when a run is not completed (its manifest status is not "completed").
  bool force = false;
};

// Builds the compare.json document. Throws assay::Error: not found (a run folder or its
// scores.jsonl), invalid input (the runs share no sample id, a requested metric neither run
// has, a run not completed without `force`). Logs a warning when the id
// sets differ (only shared ids are compared) and when corpus metrics cannot be recomputed
// (the dataset file of a run is gone or changed).
nlohmann::json compare_runs(const CompareOptions& options);

// Prints a compare.json document as a table: metric, A, B, diff, CI, p, n.
void print_comparison(const nlohmann::json& comparison, std::ostream& out);

}  // namespace assay::eval
