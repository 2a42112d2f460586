// The scoring entry point for a whole dataset: resolves metric names (and groups) against the
// metric registry (scoring/metric_registry.h), scores every (prediction, reference) pair in
// parallel, and aggregates each metric with its bootstrap CI over one set of draws. Knows nothing
// of models or judges: it takes strings and returns numbers.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scoring/aggregate.h"
#include "scoring/metric_registry.h"

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

// Per-sample scores before aggregation: what score_samples computes and aggregate_scores reads.
struct SampleScores {
  std::vector<std::string> columns;  // per-sample metric names, in output order
  std::vector<double> values;        // row-major [row][column]; NaN: not computed for that row
  // The corpus statistics of each requested family that has a corpus form, in canonical order.
  struct Corpus {
    const CorpusForm* form = nullptr;  // points into metric_families()
    std::vector<double> stats;         // row-major [row][form->width]; a NaN leaves the row out
  };
  std::vector<Corpus> corpus;
  std::size_t rows() const { return columns.empty() ? 0 : values.size() / columns.size(); }
};

// Scores predictions against references (same length; row i is pair i), in parallel over pairs
// (oneTBB; each pair writes only its own row), with the corpus statistics of the families that
// have a corpus form. Options as for score_dataset. Throws assay::Error (invalid input) for
// unknown metrics, bad options or model metrics. `on_progress` as for score_dataset.
SampleScores score_samples(const std::vector<std::string>& predictions,
                           const std::vector<std::string>& references,
                           const std::vector<MetricRequest>& requests,
                           const std::function<void(std::size_t)>& on_progress = {});

// summary.json "metrics" and "corpus" of `scores` over `draws`, in one pass over the draws:
// `dataset_row` maps each scored row to the sample of the draws it is (dataset_row[row] <
// draws.samples(), no two rows the same sample; empty: row i is sample i, and then
// scores.rows() == draws.samples()). Samples without a row count as absent: the means, their CIs
// and the corpus metrics are over the rows present in each resample (see summarize_mean). Fills
// out.summary and out.corpus (empty when there is no row); leaves out.columns and out.values.
void aggregate_scores(const SampleScores& scores, const BootstrapDraws& draws,
                      std::span<const std::size_t> dataset_row, ScoredDataset& out);

// score_samples, then aggregate_scores over draws of its own (make_bootstrap_draws(n,
// bootstrap), row i = sample i). Scores predictions against references (same length). Metric
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
