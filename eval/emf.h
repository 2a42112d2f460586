// A run's final metrics as CloudWatch Embedded Metric Format (EMF) log lines on stdout: one JSON
// object per metric group (per-sample metrics, corpus metrics, judges, run counters), namespace
// "Assay", dimensions Model and Run. CloudWatch extracts them as metrics when the log stream is
// ingested as EMF. See docs/observability.md for when it is on and what each metric means.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay::eval {

struct EmfOptions {
  std::string name_space = "Assay";  // CloudWatch namespace
  std::string model;                 // dimension "Model"; empty: "unknown"
  std::string run;                   // dimension "Run"; empty: "unknown"
  std::int64_t timestamp_ms = 0;     // _aws.Timestamp, milliseconds since the Unix epoch
};

// The EMF records of a summary.json: groups "metrics" (each metric's mean), "corpus" (corpus
// scores, as corpus.<name>), "judges" (judge.<criterion> means and judge.<criterion>.n_errors)
// and "run" (sample, token and judge-call counts, judge cost). Missing or null values are left
// out; a group with no values gives no record; a group of more than 100 metrics is split (the
// EMF limit per directive). Each record carries "MetricGroup" as an extra, non-dimension field.
std::vector<nlohmann::json> emf_records(const nlohmann::json& summary, const EmfOptions& options);

// Whether EMF output is on: ASSAY_EMF=1|true → on, 0|false → off; unset → on when /opt/ml
// exists (inside a SageMaker container). Any other value is a warning and off.
bool emf_enabled();

// The options for a run folder: Model from ASSAY_EMF_MODEL, else the manifest's model path
// (folder or archive name); Run from ASSAY_EMF_RUN, else the SageMaker processing job name
// (<SM_ROOT or /opt/ml>/config/processingjobconfig.json), else the run folder's name; the
// namespace from ASSAY_EMF_NAMESPACE (default "Assay"); the timestamp is now.
EmfOptions emf_options_for(const std::filesystem::path& run_dir, const nlohmann::json& manifest);

// When emf_enabled(), reads run_dir/summary.json (and manifest.json) and writes one line per
// record to `out`. Throws assay::Error when the files cannot be read.
void emit_emf_if_enabled(const std::filesystem::path& run_dir, std::ostream& out);

}  // namespace assay::eval
