// The scoring entry point for a whole dataset: resolves metric names (and groups), scores every
// (prediction, reference) pair in parallel, and aggregates each metric with its bootstrap CI.
// Knows nothing of models or judges: it takes strings and returns numbers.
#pragma once

#include <functional>
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

// Metrics whose values come from the model run, not from the (prediction, reference) strings:
// "answer_tokens" (the generation's completion token count) and the group "perplexity" =
// "ref_perplexity", "ref_bits_per_byte" (log-likelihood of the reference given the prompt; the
// corpus perplexity goes to summary.json "corpus"."perplexity"). scoring only knows their names;
// `evaluate run` computes them (eval/loglik_stage.h). resolve_metrics and score_dataset reject
// them with a message saying that they need the model.
const std::vector<std::string>& model_metrics();
inline constexpr const char* kPerplexityGroup = "perplexity";

// Removes model metric names and the "perplexity" group from `requests`; returns the model
// columns they asked for, in model_metrics() order, deduplicated (empty when none). Throws
// assay::Error (invalid input) when one of them is given options.
std::vector<std::string> take_model_metrics(std::vector<MetricRequest>& requests);

// Expands groups and checks names; throws assay::Error (invalid input) naming an unknown metric
// with a "did you mean" hint. Returns per-sample column names in canonical order, deduplicated.
std::vector<std::string> resolve_metrics(const std::vector<MetricRequest>& requests);

struct ScoredDataset {
  std::vector<std::string> columns;         // per-sample metric names, in output order
  std::vector<std::vector<double>> values;  // [sample][column]
  // {"<column>": {"mean", "n", "stderr", "ci_low", "ci_high"}, ...}
  nlohmann::json summary = nlohmann::json::object();
  // Corpus-level metrics from summed per-sample statistics, each with a bootstrap CI
  // ("ci_low"/"ci_high", resampling samples): {"bleu": {"score", "counts", "totals",
  // "precisions", "bp", "sys_len", "ref_len", "n", ...}, "chrf": {"score", ...}, "chrf_pp",
  // "ter": {"score", "num_edits", "ref_length", "n", "not_computed", ...}}. Only for the
  // families requested (sentence_bleu, chrf, chrf_pp, ter); empty otherwise.
  nlohmann::json corpus = nlohmann::json::object();
};

// Scores predictions against references (same length). Parallel over samples (oneTBB). Metric
// options (validated; unknown keys are errors): regex_match {"pattern": string (required),
// "full": bool, "ignore_case": bool}; contains {"ignore_case": bool}. A per-sample value may be
// NaN where a metric is not computed for that sample (see ter.h / rouge.h / text_metrics.h
// limits); means skip NaN and report the count in "n". `on_progress`, when set, is called with
// the number of samples just scored, once per parallel chunk (from worker threads: it must be
// thread-safe).
ScoredDataset score_dataset(const std::vector<std::string>& predictions,
                            const std::vector<std::string>& references,
                            const std::vector<MetricRequest>& requests,
                            const BootstrapOptions& bootstrap,
                            const std::function<void(std::size_t)>& on_progress = {});

}  // namespace assay::scoring
