// CI gates: conditions on a finished run's numbers ("rougeL_f": ">= 0.30") that decide the exit
// code, so a pipeline can block a model. Gates come from the config key `gates` (or EVAL_GATES,
// a JSON object that replaces it), are checked for shape before a run starts, and are evaluated
// against the run folder's summary.json / compare.json when it ends. Exit 3 when one fails.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/config.h"

namespace assay::eval {

// Where a gate's number lives.
enum class GateSource {
  kMetric,   // summary.json metrics.<name>.<field> (default field: mean)
  kJudge,    // summary.json judges.<name>.<field> (default: mean); key "judge.<name>[.<field>]"
  kCorpus,   // summary.json corpus.<name>.<field> (default: score); key "corpus.<name>[.<field>]"
  kSummary,  // summary.json <name>.<field> for judge_usage.*, generation.*, n_samples
  kCompare,  // compare.json metrics.<name>.<field> (default: diff); key "compare.<name>[.<field>]"
};

// One parsed gate. Key grammar: [MODEL/]KEY, where MODEL selects a model of a multi-model run
// (default: the first non-baseline model, the one compare.json covers).
struct Gate {
  std::string key;        // as written in the config, e.g. "dpo/judge.accuracy.mean"
  std::string condition;  // as written, e.g. ">= 2.0"
  std::string model;      // the MODEL/ prefix, "" when absent
  GateSource source = GateSource::kMetric;
  std::string name;   // metric, criterion, corpus metric, summary section or compare metric
  std::string field;  // mean, ci_low, score, diff, p_value, ...
  std::string op;     // one of >=, >, <=, <, ==, !=
  double threshold = 0.0;
};

// Parses the `gates` object ({"key": "condition"}). `origin` names where it came from (e.g.
// "gates (from file run.json)"). Throws assay::Error (invalid input) naming the gate for a
// condition that is not `OP NUMBER` or a key that does not follow the grammar above.
std::vector<Gate> parse_gates(const nlohmann::json& gates, const std::string& origin);

// The gates of a resolved config (key `gates`, env EVAL_GATES); empty when none.
std::vector<Gate> gates_from_config(const ResolvedConfig& cfg);

// What a run will produce, so gates can be checked before any work is done.
struct GateContext {
  std::set<std::string> metrics;  // per-sample metric columns the run computes
  std::optional<std::set<std::string>> judge_criteria;  // nullopt: no judge stage
  std::set<std::string> judge_figures;  // reliability figures (eval/judge_reliability.h) written
  std::set<std::string> corpus;                         // corpus metrics (bleu, chrf, chrf_pp, ter)
  std::set<std::string> models;  // model names of a multi-model run; empty: one model
  bool has_compare = false;      // the run writes compare.json
};

// Throws assay::Error (invalid input) naming the first gate whose key addresses something the
// run will not produce (with a "did you mean" hint).
void validate_gates(const std::vector<Gate>& gates, const GateContext& context);

struct GateResult {
  const Gate* gate = nullptr;
  std::optional<double> value;  // nullopt: the number is null (e.g. nothing was judged)
  bool passed = false;          // a null value never passes
};

// Evaluates gates against a folder: a run folder (summary.json, and compare.json if present), a
// multi-model run's parent folder (summary.json "kind": "multi"), or an `evaluate compare` output
// folder holding only compare.json (summary keys then address run A). Throws assay::Error
// (invalid input) naming the gate when its key addresses a metric the files do not have, or
// (not found) when a file it needs is missing.
std::vector<GateResult> evaluate_gates(const std::vector<Gate>& gates,
                                       const std::filesystem::path& dir);

// Prints a table (gate, value, condition, pass/FAIL) to `out`; returns 0 when every gate
// passed, 3 (kExitGateFailed) otherwise. Prints nothing and returns 0 for no gates.
int report_gates(const std::vector<GateResult>& results, std::ostream& out);


}  // namespace assay::eval
