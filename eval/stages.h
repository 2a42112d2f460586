// The stages of a run, each with one shape: it works on a RunState (eval/run_state.h) and says
// whether it finished or was stopped by a signal. `evaluate run` is Generate -> Metrics -> Judge
// -> Loglik -> Summarize, `evaluate score` Metrics -> Judge -> Summarize, `evaluate merge`
// combines shards, then Metrics -> Summarize. Each throws assay::Error for bad input or a runtime
// failure (the command marks the run failed).
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "eval/generators/generator.h"
#include "eval/prompt.h"
#include "eval/run_state.h"

namespace assay::eval {

// Generate: answers every sample that generations.jsonl does not hold yet, appending each result
// as it finishes (fsynced every 16 results or second, and at the end). Resuming, it keeps every
// complete line and drops a torn last one. `prompts` is the fixed prompt format, or nullopt to
// detect it from the generator's chat template (prompt.chat_format "auto"). Fills
// state.generations and each sample's prediction; records "generate_s" and "load_s".
StageOutcome generate_stage(RunState& state, Generator& generator,
                            std::optional<PromptBuilder> prompts);

// Metrics: the local metrics over the samples that have a reference (all_have_reference: all), in
// parallel, with progress. Fills state.scores (rows, summaries, corpus); records "score_s".
StageOutcome metrics_stage(RunState& state);

// Judge: the configured judge over every sample (cached in the run folder's judge_cache.jsonl),
// or nothing when no judge is configured. Fills state.judged; records "judge_s".
StageOutcome judge_stage(RunState& state);

// Loglik: the model metrics (answer_tokens, the perplexity group) from the generations and the
// model's log-likelihood of each reference. Does nothing when none was asked for.
StageOutcome loglik_stage(RunState& state);

// Summarize: writes scores.jsonl, summary.json (with state.summary_extra), report.md and
// report.html, and the manifest's timings. Returns the summary written.
nlohmann::json summarize_stage(RunState& state, const std::string& command);

// Prints a summary.json as a table: metric, mean, 95% CI, n (and the judges' summary).
void print_summary(const nlohmann::json& summary, std::ostream& out);

}  // namespace assay::eval
