// The metric registry: every per-sample metric is declared once, as a MetricFamily (the metrics
// that share one computation per sample: all ROUGE columns come from one pass, squad_f1/p/r from
// one token overlap), each in its own file under scoring/metrics/ and listed once in
// metric_registry.cpp. The scorer, compare, the report's direction arrows and `--help` read it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay::scoring {

// One per-sample column (a metric name in scores.jsonl and summary.json "metrics").
struct MetricColumn {
  std::string name;
  bool higher_is_better = true;
  std::vector<std::string> groups;  // named groups it belongs to (besides "all"); may be empty
  bool in_all = true;               // member of the group "all" (false for metrics needing options)
};

// One option a family accepts in its request ({"name": "regex_match", "pattern": "..."}).
struct MetricOption {
  enum class Type { kBool, kString };
  std::string name;
  Type type = Type::kBool;
  bool required = false;
  std::string example;  // a request using it, quoted when a required option is missing; may be ""
};

// The corpus form of a family: per-sample sufficient statistics that add up over a corpus.
struct CorpusForm {
  std::string name;       // key in summary.json "corpus" and compare's "corpus.<name>"
  std::size_t width = 0;  // statistics per sample, in doubles (integers are exact up to 2^53)
  // The corpus score from `width` summed statistics.
  double (*score)(const double* summed) = nullptr;
  // summary.json "corpus".<name> without "ci_low"/"ci_high": the score and its details from the
  // statistics summed over `n` samples; `not_computed` samples had a NaN and were left out.
  nlohmann::json (*details)(const double* summed, std::size_t n,
                            std::size_t not_computed) = nullptr;
};

// A family's per-run state, built by `prepare` (e.g. a compiled regex, or whether the stemmed
// ROUGE pass is needed); null when the family has none.
using MetricState = std::shared_ptr<const void>;

struct MetricFamily {
  std::string name;                   // for messages; often its only column's name
  std::vector<MetricColumn> columns;  // in canonical output order
  std::vector<MetricOption> options;  // accepted options; any other key is an error
  // Builds the per-run state from the request's options (an object, already checked against
  // `options`: known keys, types, required ones present) and which columns are wanted
  // (wanted[c] for columns[c]). Null: no state. May throw assay::Error (invalid input).
  MetricState (*prepare)(const nlohmann::json& options, const std::vector<bool>& wanted) = nullptr;
  // Scores one pair. Writes columns[c] for every wanted column (NaN: not computed for this pair)
  // and, when the family has a corpus form and `stats` is not null, its corpus.width statistics
  // (a NaN leaves the pair out of the corpus). Called from many threads at once.
  void (*compute)(std::string_view prediction, std::string_view reference, const void* state,
                  double* columns, double* stats) = nullptr;
  std::optional<CorpusForm> corpus;
};

// A family of one column, in "all" and no other group, whose value is Fn(prediction, reference):
// no options, no state, no corpus form (exact_match, edit_similarity, ...).
template <double (*Fn)(std::string_view prediction, std::string_view reference)>
MetricFamily one_column_family(const char* name, bool higher_is_better = true) {
  MetricFamily f;
  f.name = name;
  f.columns = {{name, higher_is_better, {}, true}};
  f.compute = [](std::string_view pred, std::string_view ref, const void*, double* out, double*) {
    out[0] = Fn(pred, ref);
  };
  return f;
}

// Every registered family, in canonical output order.
const std::vector<MetricFamily>& metric_families();

// The family owning a per-sample column, with the column's index in it; nullptr when unknown.
const MetricFamily* find_family(std::string_view column, std::size_t* column_idx = nullptr);
// The column named `name`; nullptr when unknown.
const MetricColumn* find_column(std::string_view name);
// The family whose corpus form is named `corpus_name` ("bleu", "ter"); nullptr when none.
const MetricFamily* find_corpus_family(std::string_view corpus_name);

// Whether a higher value is better: for a per-sample column ("ter": false), or a corpus metric
// ("corpus.ter", as compare and gates name it; its family's first column decides). Names the
// registry does not know (judge criteria, model metrics) are higher-is-better.
bool higher_is_better(std::string_view name);

// Group name -> member columns in canonical order: the groups the columns declare, plus "all".
const std::map<std::string, std::vector<std::string>>& metric_groups();

// Every column name, in canonical output order.
std::vector<std::string> metric_names();

// A paragraph for `--help`: the groups with their members, every metric (marking the lower-is-
// better ones and the options each takes) and the corpus metrics.
std::string metrics_help();

}  // namespace assay::scoring
