// The Metrics stage (eval/stages.h).
#include <chrono>
#include <future>

#include "core/log.h"
#include "core/progress.h"
#include "eval/stages.h"
#include "scoring/scorer.h"

namespace assay::eval {
using nlohmann::json;

StageOutcome metrics_stage(RunState& state) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& samples = state.ds.samples;
  state.scores.metric_rows.assign(samples.size(), json::object());
  std::vector<size_t> with_ref;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (state.all_have_reference || !samples[i].reference.empty()) with_ref.push_back(i);
  }
  if (with_ref.empty()) {
    log::info("the dataset has no references: no local metrics",
              {{"field", state.settings.fields.reference}});
  } else if (!state.settings.metrics.empty()) {
    std::vector<std::string> predictions, references;
    predictions.reserve(with_ref.size());
    references.reserve(with_ref.size());
    for (size_t i : with_ref) {
      predictions.push_back(samples[i].prediction.value_or(""));
      references.push_back(samples[i].reference);
    }
    // The bootstrap draws depend only on the sample count: drawn (one sequential stream) on a
    // thread of their own while the pairs are scored in parallel.
    auto draws = std::async(std::launch::async, [&state]() -> const scoring::BootstrapDraws& {
      return bootstrap_draws(state);
    });
    Progress progress("scoring", predictions.size());
    scoring::SampleScores scored = scoring::score_samples(
        predictions, references, state.settings.metrics, [&](size_t n) { progress.advance(n); });
    progress.finish();
    if (with_ref.size() < samples.size()) {
      log::warn("some samples have no reference; local metrics cover the others",
                {{"with_reference", with_ref.size()}, {"samples", samples.size()}});
    }
    const size_t width = scored.columns.size();
    for (size_t k = 0; k < with_ref.size(); ++k) {
      json& row = state.scores.metric_rows[with_ref[k]];
      for (size_t c = 0; c < width; ++c) row[scored.columns[c]] = scored.values[k * width + c];
    }
    scoring::ScoredDataset aggregated;
    scoring::aggregate_scores(scored, draws.get(), with_ref, aggregated);
    state.scores.metrics = std::move(aggregated.summary);
    state.scores.corpus = std::move(aggregated.corpus);
  }
  state.timings["score_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return StageOutcome::kDone;
}

}  // namespace assay::eval
