// The model-needing metrics of `evaluate run` (scoring/scorer.h model_metrics()): answer_tokens
// (the generation's completion token count) and the perplexity group (ref_perplexity,
// ref_bits_per_byte per sample, corpus perplexity in summary.json), from the per-token
// log-probabilities of each reference given its prompt (inference::loglikelihood, batched).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/dataset.h"
#include "eval/run_settings.h"
#include "eval/run_state.h"
#include "scoring/scorer.h"

namespace assay::eval {

class ModelHandle;

class LoglikStage {
 public:
  // The model metric columns asked for, as scoring::take_model_metrics returns them.
  explicit LoglikStage(std::vector<std::string> columns) : columns_(std::move(columns)) {}

  // Columns requested (answer_tokens, ref_perplexity, ref_bits_per_byte), possibly none.
  const std::vector<std::string>& columns() const { return columns_; }

  // Computes the requested columns for every sample of `ds` and merges them into `scores`:
  // per-sample values into metric_rows, mean/CI into metrics, and for perplexity
  // corpus["perplexity"] = {"score", "bits_per_byte", "tokens", "bytes", "n", "not_computed",
  // "ci_low", "ci_high"}, every CI over `draws` (the run's resamples of ds.samples). `generations`
  // maps sample id -> its generations.jsonl record ("prompt", "completion_tokens"). Perplexity uses
  // the run's model (loaded now if generation did not need it). A sample with an empty reference,
  // or whose prompt plus reference exceeds the model's context, gets NaN (written as null; counted
  // in "not_computed"). Does nothing when no column was requested. Throws assay::Error.
  void add_to(RunScores& scores, const Dataset& ds,
              const std::map<std::string, nlohmann::json>& generations, ModelHandle& model,
              const RunSettings& settings, const scoring::BootstrapDraws& draws) const;

 private:
  std::vector<std::string> columns_;
};

}  // namespace assay::eval
