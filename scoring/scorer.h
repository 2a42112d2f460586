// The scoring entry point for a whole dataset: resolves metric names (and groups), scores every
// (prediction, reference) pair in parallel, and aggregates each metric with its bootstrap CI.
// Knows nothing of models or judges: it takes strings and returns numbers.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scoring/aggregate.h"

namespace assay::scoring {

// One requested metric: a metric or group name, with options (an object, may be null).
struct MetricRequest {
  std::string name;
  nlohmann::json options;
};

// Per-sample metric names this build knows, in canonical output order.
const std::vector<std::string>& known_metrics();
// Group names (e.g. "squad", "all") this build knows.
std::vector<std::string> known_groups();

// Expands groups and checks names; throws assay::Error (invalid input) naming an unknown metric
// with a "did you mean" hint. Returns per-sample column names in canonical order, deduplicated.
std::vector<std::string> resolve_metrics(const std::vector<MetricRequest>& requests);

struct ScoredDataset {
  std::vector<std::string> columns;         // per-sample metric names, in output order
  std::vector<std::vector<double>> values;  // [sample][column]
  // {"<column>": {"mean", "n", "stderr", "ci_low", "ci_high"}, ...}
  nlohmann::json summary = nlohmann::json::object();
};

// Scores predictions against references (same length). Parallel over samples.
ScoredDataset score_dataset(const std::vector<std::string>& predictions,
                            const std::vector<std::string>& references,
                            const std::vector<MetricRequest>& requests,
                            const BootstrapOptions& bootstrap);

}  // namespace assay::scoring
