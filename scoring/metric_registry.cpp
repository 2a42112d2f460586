#include "scoring/metric_registry.h"

#include <algorithm>

#include "core/error.h"

// The registered families, in canonical output order: ONE line per family. `X(name)` refers to
// `MetricFamily name_family()`, defined in the family's own file under scoring/metrics/.
#define ASSAY_METRIC_FAMILIES(X) \
  X(exact_match)                 \
  X(quasi_exact_match)           \
  X(squad)                       \
  X(bleu)                        \
  X(chrf)                        \
  X(chrf_pp)                     \
  X(ter)                         \
  X(rouge)                       \
  X(regex_match)                 \
  X(contains)                    \
  X(valid_json)                  \
  X(answer_words)                \
  X(edit_similarity)

namespace assay::scoring {

#define ASSAY_DECLARE_FAMILY(name) MetricFamily name##_family();
ASSAY_METRIC_FAMILIES(ASSAY_DECLARE_FAMILY)
#undef ASSAY_DECLARE_FAMILY

const std::vector<MetricFamily>& metric_families() {
#define ASSAY_MAKE_FAMILY(name) name##_family(),
  static const std::vector<MetricFamily> families = {ASSAY_METRIC_FAMILIES(ASSAY_MAKE_FAMILY)};
#undef ASSAY_MAKE_FAMILY
  return families;
}

const MetricFamily* find_family(std::string_view column, std::size_t* column_idx) {
  for (const auto& family : metric_families()) {
    for (std::size_t c = 0; c < family.columns.size(); ++c) {
      if (family.columns[c].name != column) continue;
      if (column_idx) *column_idx = c;
      return &family;
    }
  }
  return nullptr;
}

const MetricColumn* find_column(std::string_view name) {
  std::size_t c = 0;
  const MetricFamily* family = find_family(name, &c);
  return family ? &family->columns[c] : nullptr;
}

const MetricFamily* find_corpus_family(std::string_view corpus_name) {
  for (const auto& family : metric_families()) {
    if (family.corpus && family.corpus->name == corpus_name) return &family;
  }
  return nullptr;
}

bool higher_is_better(std::string_view name) {
  if (const MetricColumn* column = find_column(name)) return column->higher_is_better;
  constexpr std::string_view kCorpusPrefix = "corpus.";
  if (name.starts_with(kCorpusPrefix)) {
    const MetricFamily* family = find_corpus_family(name.substr(kCorpusPrefix.size()));
    if (family) return family->columns.front().higher_is_better;
  }
  return true;
}

const std::map<std::string, std::vector<std::string>>& metric_groups() {
  static const std::map<std::string, std::vector<std::string>> groups = [] {
    std::map<std::string, std::vector<std::string>> g;
    for (const auto& family : metric_families()) {
      for (const auto& column : family.columns) {
        for (const auto& group : column.groups) g[group].push_back(column.name);
        if (column.in_all) g["all"].push_back(column.name);
      }
    }
    return g;
  }();
  return groups;
}

std::vector<std::string> metric_names() {
  std::vector<std::string> names;
  for (const auto& family : metric_families()) {
    for (const auto& column : family.columns) names.push_back(column.name);
  }
  return names;
}

std::string metrics_help() {
  auto join = [](const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
  };
  std::vector<std::string> groups, metrics, corpus;
  for (const auto& [name, members] : metric_groups()) {
    groups.push_back(name == "all" ? name : name + " (" + join(members) + ")");
  }
  for (const auto& family : metric_families()) {
    for (const auto& column : family.columns) {
      std::string item = column.name + (column.higher_is_better ? "" : " (lower is better)");
      if (!family.options.empty()) {
        std::vector<std::string> opts;
        for (const auto& o : family.options) opts.push_back(o.name + (o.required ? "*" : ""));
        item += " [options: " + join(opts) + "]";
      }
      metrics.push_back(item);
    }
    if (family.corpus) corpus.push_back(family.corpus->name);
  }
  return "Groups: " + join(groups) + ". Metrics: " + join(metrics) +
         ". Corpus metrics (summary.json \"corpus\"): " + join(corpus) +
         ". Options go in the config ({\"name\": \"regex_match\", \"pattern\": \"^[A-D]$\"}); * "
         "marks a required one.";
}

}  // namespace assay::scoring
