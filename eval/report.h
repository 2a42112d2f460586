// The human-readable reports of a run folder: report.md and report.html, rebuilt from the files
// the run wrote (manifest.json, summary.json, scores.jsonl, generations.jsonl, compare.json).
// report.html is one self-contained file: inline CSS and SVG charts, no scripts, no network
// (a Content-Security-Policy of default-src 'none' enforces it in the browser).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay::eval {

// How many samples the "worst samples" tables list.
inline constexpr size_t kReportWorstSamples = 10;
// How many judge errors the reports list one by one.
inline constexpr size_t kReportJudgeErrors = 20;

// Writes report.md and report.html (atomically) into `run_dir` from the files found there.
// Needs summary.json or compare.json (or both); the others are used when present.
// Throws assay::Error: not found (a folder with neither summary.json nor compare.json),
// invalid input (a file that is not valid JSON/JSONL, naming it and the line), i/o.
void write_reports(const std::filesystem::path& run_dir);

// The inputs of a report, as read from a run folder (exposed for tests).
struct ReportInputs {
  std::string name;                    // the run folder's name
  nlohmann::json manifest;             // null when absent
  nlohmann::json summary;              // null when absent
  nlohmann::json compare;              // null when absent
  std::vector<nlohmann::json> scores;  // scores.jsonl lines (empty when absent)
  // generations.jsonl lines of the samples the report lists, by id (others are not kept).
  std::map<std::string, nlohmann::json> generations;
  // From the dataset, when it is still at the manifest's path with the same SHA-256: the listed
  // samples' {"question", "reference", "prediction"} by id (empty otherwise).
  std::map<std::string, nlohmann::json> dataset_rows;
};

// Reads the inputs (see write_reports for errors).
ReportInputs read_report_inputs(const std::filesystem::path& run_dir);

// The report's name for a run folder: its (canonical) folder name.
std::string report_name(const std::filesystem::path& run_dir);

// The ids of the samples the reports list one by one (the worst ones), whose generations and
// dataset rows a ReportInputs needs.
std::vector<std::string> listed_sample_ids(const std::vector<nlohmann::json>& scores,
                                           const nlohmann::json& summary);

// Writes report.md and report.html (atomically) into `run_dir` from inputs already in memory (a
// run's Summarize stage has them; read_report_inputs(run_dir) gives the same from the files).
void write_reports(const std::filesystem::path& run_dir, const ReportInputs& in);

// Renders the two reports from inputs (pure functions: same inputs, same bytes).
std::string render_report_markdown(const ReportInputs& in);
std::string render_report_html(const ReportInputs& in);

}  // namespace assay::eval
