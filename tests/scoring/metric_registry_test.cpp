// The metric registry (names, groups, directions, help) and edit_similarity, its newest metric.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/fs.h"
#include "scoring/metric_registry.h"
#include "scoring/scorer.h"

namespace assay::scoring {
namespace {

double edit_similarity_of(const std::string& pred, const std::string& ref) {
  ScoredDataset out =
      score_dataset({pred}, {ref}, {{"edit_similarity", nullptr}}, BootstrapOptions{0, 1, 0.95});
  EXPECT_EQ(out.columns, std::vector<std::string>{"edit_similarity"});
  return out.values.at(0).at(0);
}

TEST(MetricRegistryTest, EditSimilarityMatchesHandComputedDistances) {
  // kitten -> sitting: k->s, e->i, +g = 3 edits over 7 code points.
  EXPECT_DOUBLE_EQ(edit_similarity_of("kitten", "sitting"), 1.0 - 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(edit_similarity_of("sitting", "kitten"), 1.0 - 3.0 / 7.0);
  // "café" is 4 code points (5 bytes): one substitution.
  EXPECT_DOUBLE_EQ(edit_similarity_of("café", "cafe"), 0.75);
  // An emoji (4 bytes) is one code point: deleting it is one edit over 2.
  EXPECT_DOUBLE_EQ(edit_similarity_of("\xF0\x9F\x98\x80"
                                      "a",
                                      "a"),
                   0.5);
  EXPECT_DOUBLE_EQ(edit_similarity_of("", ""), 1.0);
  EXPECT_DOUBLE_EQ(edit_similarity_of("abc", ""), 0.0);
  EXPECT_DOUBLE_EQ(edit_similarity_of("", "x"), 0.0);
  EXPECT_DOUBLE_EQ(edit_similarity_of("same text", "same text"), 1.0);
  // flaw -> lawn: delete f, append n = 2 over 4; a common prefix and suffix around the edits.
  EXPECT_DOUBLE_EQ(edit_similarity_of("flaw", "lawn"), 0.5);
  EXPECT_DOUBLE_EQ(edit_similarity_of("xxabcyy", "xxacyy"), 1.0 - 1.0 / 7.0);
}

TEST(MetricRegistryTest, EditSimilarityIsInAllAndHigherIsBetter) {
  auto all = resolve_metrics({{"all", nullptr}});
  EXPECT_NE(std::find(all.begin(), all.end(), "edit_similarity"), all.end());
  EXPECT_TRUE(higher_is_better("edit_similarity"));
}

TEST(MetricRegistryTest, EveryMetricHasOneFamilyADirectionAndAPlaceInTheHelp) {
  const std::string help = metrics_help();
  std::size_t columns = 0;
  for (const auto& family : metric_families()) {
    ASSERT_NE(family.compute, nullptr) << family.name;
    for (std::size_t c = 0; c < family.columns.size(); ++c) {
      const MetricColumn& column = family.columns[c];
      ++columns;
      std::size_t idx = 99;
      EXPECT_EQ(find_family(column.name, &idx), &family) << column.name << " is registered twice";
      EXPECT_EQ(idx, c);
      EXPECT_EQ(higher_is_better(column.name), column.higher_is_better) << column.name;
      EXPECT_NE(help.find(column.name), std::string::npos) << column.name << " is not in the help";
    }
    if (family.corpus) {
      EXPECT_GT(family.corpus->width, 0u) << family.name;
      ASSERT_NE(family.corpus->score, nullptr) << family.name;
      ASSERT_NE(family.corpus->details, nullptr) << family.name;
      EXPECT_EQ(find_corpus_family(family.corpus->name), &family);
      EXPECT_NE(help.find(family.corpus->name), std::string::npos) << family.corpus->name;
    }
  }
  EXPECT_EQ(columns, metric_names().size());
  EXPECT_EQ(known_metrics(), metric_names());
  // Directions the reference implementations define: TER counts edits.
  EXPECT_FALSE(higher_is_better("ter"));
  EXPECT_FALSE(higher_is_better("corpus.ter"));
  EXPECT_TRUE(higher_is_better("corpus.bleu"));
  EXPECT_TRUE(higher_is_better("squad_f1"));
  EXPECT_NE(help.find("ter (lower is better)"), std::string::npos) << help;
}

TEST(MetricRegistryTest, EveryGroupMemberIsRegisteredAndEveryGroupIsInTheHelp) {
  const std::string help = metrics_help();
  for (const auto& [group, members] : metric_groups()) {
    EXPECT_FALSE(members.empty()) << group;
    EXPECT_NE(help.find(group), std::string::npos) << group;
    for (const auto& m : members) EXPECT_NE(find_column(m), nullptr) << group << ": " << m;
  }
  for (const char* group : {"squad", "bleu", "chrf", "ter", "rouge", "rouge_stem", "all"}) {
    EXPECT_TRUE(metric_groups().count(group)) << group;
  }
}

// docs/metrics.md's row for a column: name, direction, groups, the corpus metric it brings.
std::string doc_row(const MetricFamily& family, const MetricColumn& column) {
  std::string groups;
  for (const auto& g : column.groups) groups += (groups.empty() ? "" : ", ") + g;
  if (column.in_all) groups += (groups.empty() ? "" : ", ") + std::string("all");
  std::string corpus;
  if (family.corpus && &column == &family.columns.front()) corpus = "`" + family.corpus->name + "`";
  return "| `" + column.name + "` | " + (column.higher_is_better ? "higher" : "lower") + " | " +
         groups + " | " + corpus + " |";
}

TEST(MetricRegistryTest, TheMetricsDocListsEveryRegisteredMetricAndNoOther) {
  const std::string doc = read_file(std::string(ASSAY_SOURCE_DIR) + "/docs/metrics.md");
  for (const auto& family : metric_families()) {
    for (const auto& column : family.columns) {
      const std::string row = doc_row(family, column);
      EXPECT_NE(doc.find(row + "\n"), std::string::npos) << "docs/metrics.md lacks:\n" << row;
    }
  }
  // Every metric row of the doc names a registered metric.
  size_t rows = 0;
  for (size_t pos = doc.find("\n| `"); pos != std::string::npos; pos = doc.find("\n| `", pos + 1)) {
    size_t end = doc.find('`', pos + 4);
    std::string name = doc.substr(pos + 4, end - pos - 4);
    EXPECT_NE(find_column(name), nullptr) << "docs/metrics.md names '" << name << "'";
    ++rows;
  }
  EXPECT_EQ(rows, metric_names().size());
}

}  // namespace
}  // namespace assay::scoring
