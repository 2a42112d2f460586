// EMF lines checked against the rules of the CloudWatch Embedded Metric Format specification
// (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
// written out here as an independent validator rather than compared with our own output.
#include "eval/emf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
using nlohmann::json;

// The units the specification allows for MetricDefinition.Unit.
const std::set<std::string> kUnits = {"Seconds",
                                      "Microseconds",
                                      "Milliseconds",
                                      "Bytes",
                                      "Kilobytes",
                                      "Megabytes",
                                      "Gigabytes",
                                      "Terabytes",
                                      "Bits",
                                      "Kilobits",
                                      "Megabits",
                                      "Gigabits",
                                      "Terabits",
                                      "Percent",
                                      "Count",
                                      "Bytes/Second",
                                      "Kilobytes/Second",
                                      "Megabytes/Second",
                                      "Gigabytes/Second",
                                      "Terabytes/Second",
                                      "Bits/Second",
                                      "Kilobits/Second",
                                      "Megabits/Second",
                                      "Gigabits/Second",
                                      "Terabits/Second",
                                      "Count/Second",
                                      "None"};

bool has_non_space(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") != std::string::npos;
}

// Returns the violations of the EMF specification in one log line ("" when none).
std::string emf_violations(const std::string& line) {
  std::vector<std::string> v;
  json root = json::parse(line, nullptr, false);
  if (!root.is_object()) return "the log event is not one JSON object";
  if (line.find('\n') != std::string::npos) v.push_back("the event spans lines");
  if (line.size() > 1024 * 1024) v.push_back("larger than 1 MB");
  if (!root.contains("_aws") || !root["_aws"].is_object()) return "no _aws metadata object";
  const json& aws = root["_aws"];
  if (!aws.contains("Timestamp") || !aws["Timestamp"].is_number_integer() ||
      aws["Timestamp"].get<std::int64_t>() < 0) {
    v.push_back("_aws.Timestamp must be milliseconds since the epoch");
  }
  if (!aws.contains("CloudWatchMetrics") || !aws["CloudWatchMetrics"].is_array()) {
    return "_aws.CloudWatchMetrics must be an array";
  }
  for (const json& d : aws["CloudWatchMetrics"]) {
    if (!d.is_object()) {
      v.push_back("a MetricDirective is not an object");
      continue;
    }
    if (!d.contains("Namespace") || !d["Namespace"].is_string() ||
        !has_non_space(d["Namespace"].get<std::string>()) ||
        d["Namespace"].get<std::string>().size() > 255) {
      v.push_back("Namespace must be a 1-255 character string");
    }
    if (!d.contains("Dimensions") || !d["Dimensions"].is_array()) {
      v.push_back("Dimensions must be an array of DimensionSets");
    } else {
      for (const json& set : d["Dimensions"]) {
        if (!set.is_array() || set.size() > 30) {
          v.push_back("a DimensionSet must be an array of at most 30 names");
          continue;
        }
        for (const json& name : set) {
          if (!name.is_string()) {
            v.push_back("a dimension name is not a string");
            continue;
          }
          auto it = root.find(name.get<std::string>());
          if (it == root.end() || !it->is_string() || it->get<std::string>().empty() ||
              it->get<std::string>().size() > 1024) {
            v.push_back("dimension " + name.get<std::string>() +
                        " needs a 1-1024 character string target member");
          }
        }
      }
    }
    if (!d.contains("Metrics") || !d["Metrics"].is_array() || d["Metrics"].size() > 100) {
      v.push_back("Metrics must be an array of at most 100 MetricDefinitions");
      continue;
    }
    for (const json& m : d["Metrics"]) {
      if (!m.is_object() || !m.contains("Name") || !m["Name"].is_string()) {
        v.push_back("a MetricDefinition needs a string Name");
        continue;
      }
      std::string name = m["Name"];
      if (name.empty() || name.size() > 255) v.push_back(name + ": Name must be 1-255 characters");
      if (m.contains("Unit") && (!m["Unit"].is_string() || !kUnits.count(m["Unit"]))) {
        v.push_back(name + ": Unit is not one of the specification's units");
      }
      for (const auto& [k, _] : m.items()) {
        if (k != "Name" && k != "Unit" && k != "StorageResolution") {
          v.push_back(name + ": unexpected member " + k);
        }
      }
      auto it = root.find(name);
      bool ok = it != root.end() &&
                (it->is_number() || (it->is_array() && !it->empty() && it->size() <= 100 &&
                                     std::all_of(it->begin(), it->end(),
                                                 [](const json& x) { return x.is_number(); })));
      if (!ok) v.push_back(name + ": the target member must be a number or up to 100 numbers");
    }
  }
  std::string out;
  for (const auto& s : v) out += s + "; ";
  return out;
}

json sample_summary() {
  return json::parse(R"({
    "schema_version": 1, "n_samples": 60,
    "metrics": {"squad_f1": {"mean": 0.42, "n": 60, "ci_low": 0.3, "ci_high": 0.5},
                "rougeL_f": {"mean": null, "n": 0}},
    "corpus": {"bleu": {"score": 21.5}},
    "judges": {"accuracy": {"mean": 2.1, "n": 58, "n_errors": 2}},
    "judge_usage": {"calls": 60, "cache_hits": 0, "retries": 3, "cost_usd": null},
    "generation": {"prompt_tokens": 1000, "completion_tokens": 2000}})");
}

TEST(EmfTest, EveryLineFollowsTheSpecification) {
  EmfOptions o;
  o.model = "llmtwin-sft";
  o.run = "eval-job-1";
  o.timestamp_ms = 1764670000000;
  std::vector<json> records = emf_records(sample_summary(), o);
  ASSERT_EQ(records.size(), 4u);  // metrics, corpus, judges, run
  for (const auto& r : records) {
    std::string line = r.dump();
    EXPECT_EQ(emf_violations(line), "") << line;
    EXPECT_EQ(r["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Assay");
    EXPECT_EQ(r["Model"], "llmtwin-sft");
    EXPECT_EQ(r["Run"], "eval-job-1");
    EXPECT_EQ(r["_aws"]["Timestamp"], 1764670000000);
  }
  // The values sit at the top level under their metric names; null values are left out.
  EXPECT_DOUBLE_EQ(records[0]["squad_f1"].get<double>(), 0.42);
  EXPECT_FALSE(records[0].contains("rougeL_f"));
  EXPECT_DOUBLE_EQ(records[1]["corpus.bleu"].get<double>(), 21.5);
  EXPECT_DOUBLE_EQ(records[2]["judge.accuracy"].get<double>(), 2.1);
  EXPECT_EQ(records[2]["judge.accuracy.n_errors"], 2);
  EXPECT_EQ(records[3]["n_samples"], 60);
  EXPECT_EQ(records[3]["completion_tokens"], 2000);
  EXPECT_FALSE(records[3].contains("judge_cost_usd"));
}

TEST(EmfTest, TheValidatorCatchesBrokenRecords) {
  // The validator itself must reject what the specification forbids.
  EXPECT_NE(emf_violations("not json"), "");
  EXPECT_NE(emf_violations(R"({"x": 1})"), "");
  EXPECT_NE(emf_violations(R"({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "A",
      "Dimensions": [["Model"]], "Metrics": [{"Name": "m"}]}]}, "m": 1})"),
            "");  // the dimension has no target member
  EXPECT_NE(emf_violations(R"({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "A",
      "Dimensions": [], "Metrics": [{"Name": "m", "Unit": "Furlongs"}]}]}, "m": 1})"),
            "");
  EXPECT_NE(emf_violations(R"({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "A",
      "Dimensions": [], "Metrics": [{"Name": "m"}]}]}, "m": "1"})"),
            "");
  EXPECT_EQ(
      emf_violations(
          "{\"_aws\": {\"Timestamp\": 1, \"CloudWatchMetrics\": [{\"Namespace\": \"A\", "
          "\"Dimensions\": [[\"D\"]], \"Metrics\": [{\"Name\": \"m\", \"Unit\": \"Count\"}]}]}, "
          "\"m\": [1, 2], \"D\": \"x\"}"),
      "");
}

TEST(EmfTest, SplitsGroupsAtTheHundredMetricLimit) {
  json summary = {{"metrics", json::object()}};
  for (int i = 0; i < 150; ++i) summary["metrics"]["m" + std::to_string(i)] = {{"mean", i * 0.01}};
  std::vector<json> records = emf_records(summary, {});
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"].size(), 100u);
  EXPECT_EQ(records[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"].size(), 50u);
  for (const auto& r : records) EXPECT_EQ(emf_violations(r.dump()), "");
  EXPECT_EQ(records[0]["Model"], "unknown");
}

TEST(EmfTest, EnvironmentSwitchAndDimensionsFromTheRunFolder) {
  testing::TempDir dir;
  dir.write("summary.json", sample_summary().dump());
  dir.write("manifest.json", R"({"model": {"path": "/data/models/llmtwin-sft.tar.gz"}})");
  ::setenv("ASSAY_EMF", "0", 1);
  std::ostringstream off;
  emit_emf_if_enabled(dir.path(), off);
  EXPECT_EQ(off.str(), "");
  ::setenv("ASSAY_EMF", "1", 1);
  ::setenv("ASSAY_EMF_RUN", "job-42", 1);
  std::ostringstream on;
  emit_emf_if_enabled(dir.path(), on);
  ::unsetenv("ASSAY_EMF");
  ::unsetenv("ASSAY_EMF_RUN");
  std::istringstream lines(on.str());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_EQ(emf_violations(line), "") << line;
    json r = json::parse(line);
    EXPECT_EQ(r["Model"], "llmtwin-sft");  // the archive's name without .tar.gz
    EXPECT_EQ(r["Run"], "job-42");
  }
  EXPECT_EQ(n, 4);
}

}  // namespace
}  // namespace assay::eval
