// The Summarize stage (eval/stages.h): scores.jsonl, summary.json, the reports, EMF lines.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "eval/emf.h"
#include "eval/report.h"
#include "eval/stages.h"

namespace assay::eval {
using nlohmann::json;

namespace {
constexpr int kSummarySchema = 1;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string fmt_or_dash(const json& v) {
  return v.is_number() ? fmt(v.get<double>()) : std::string("-");
}

void print_judge_summary(const json& summary, std::ostream& out) {
  const json& usage = summary.value("judge_usage", json::object());
  out << "\njudge " << usage.value("provider", "") << " / " << usage.value("model", "")
      << " / rubric " << usage.value("rubric", "") << ": " << usage.value("calls", 0) << " calls, "
      << usage.value("cache_hits", 0) << " cache hits, " << usage.value("retries", 0) << " retries";
  if (usage.contains("cost_usd") && usage["cost_usd"].is_number()) {
    out << ", $" << fmt(usage["cost_usd"].get<double>());
  }
  out << "\n";
  for (const auto& [name, c] : summary["judges"].items()) {
    out << "  " << name << ": mean " << fmt_or_dash(c["mean"]) << "  [" << fmt_or_dash(c["ci_low"])
        << ", " << fmt_or_dash(c["ci_high"]) << "]  n " << c.value("n", 0) << "  errors "
        << c.value("n_errors", 0) << "\n";
  }
}

// Writes scores.jsonl and summary.json atomically; fills the report's inputs on the way.
json write_scores_and_summary(const RunState& state, const std::string& command,
                              ReportInputs& report) {
  const auto& dir = state.folder->dir();
  const auto& samples = state.ds.samples;
  const RunScores& scores = state.scores;
  const JudgeStageOutput* judged = state.judged ? &*state.judged : nullptr;
  std::string lines;
  report.scores.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    json line = {{"id", samples[i].id}, {"metrics", scores.metric_rows[i]}};
    if (judged) line.update(judged->per_sample[i]);
    lines += to_jsonl_line(line);
    lines += '\n';
    report.scores.push_back(std::move(line));
  }
  atomic_write(dir / "scores.jsonl", lines);
  const auto& bootstrap = state.settings.bootstrap;
  json summary = {{"schema_version", kSummarySchema},
                  {"command", command},
                  {"n_samples", samples.size()},
                  {"metrics", scores.metrics},
                  {"bootstrap",
                   {{"resamples", bootstrap.resamples},
                    {"seed", bootstrap.seed},
                    {"confidence", bootstrap.confidence},
                    {"method", "percentile"}}}};
  summary.update(state.summary_extra);
  if (!scores.corpus.empty()) summary["corpus"] = scores.corpus;
  if (judged) {
    summary["judges"] = judged->judges;
    summary["judge_usage"] = judged->judge_usage;
    summary.update(judged->extra);
  }
  atomic_write(dir / "summary.json", summary.dump(2) + "\n");
  report.summary = summary;
  return summary;
}

// The rest of the report's inputs, from memory: what read_report_inputs would read back from
// the files just written (the listed samples' generations and dataset rows).
void fill_report_inputs(const RunState& state, ReportInputs& report) {
  const auto& dir = state.folder->dir();
  report.name = report_name(dir);
  report.manifest = state.folder->manifest();
  std::error_code ec;
  if (std::filesystem::exists(dir / "compare.json", ec)) {
    report.compare = json::parse(read_file(dir / "compare.json"), nullptr, false);
  }
  std::vector<std::string> listed = listed_sample_ids(report.scores, report.summary);
  std::set<std::string> wanted(listed.begin(), listed.end());
  for (const Sample& s : state.ds.samples) {
    if (!wanted.count(s.id)) continue;
    report.dataset_rows[s.id] = {
        {"question", s.input.empty() ? s.instruction : s.instruction + "\n\n" + s.input},
        {"reference", s.reference},
        {"prediction", s.prediction.value_or("")}};
    if (auto g = state.generations.find(s.id); g != state.generations.end()) {
      report.generations[s.id] = g->second;
    }
  }
}

}  // namespace

json summarize_stage(RunState& state, const std::string& command) {
  if (state.scores.metric_rows.size() != state.ds.samples.size()) {
    state.scores.metric_rows.resize(state.ds.samples.size(), json::object());
  }
  ReportInputs report;
  json summary = write_scores_and_summary(state, command, report);
  try {  // the reports are derived files: a failure is worth a warning, not the run
    fill_report_inputs(state, report);
    write_reports(state.folder->dir(), report);
  } catch (const std::exception& e) {
    log::warn("could not write report.md / report.html", {{"error", e.what()}});
  }
  try {  // CloudWatch Embedded Metric Format lines on stdout, when on (eval/emf.h)
    emit_emf_if_enabled(state.folder->dir(), std::cout);
  } catch (const std::exception& e) {
    log::warn("could not write the EMF metric lines", {{"error", e.what()}});
  }
  if (!state.timings.empty()) state.folder->update({{"timings", state.timings}});
  return summary;
}

int report_already_completed(const RunFolder& folder, std::ostream& out) {
  json summary = json::parse(read_file(folder.file("summary.json")));
  out << "Already completed with the same config and inputs; nothing to do: "
      << folder.dir().string() << "\n";
  print_summary(summary, out);
  return kExitOk;
}

void print_summary(const json& summary, std::ostream& out) {
  const json& metrics = summary.value("metrics", json::object());
  size_t width = 6;
  for (auto it = metrics.begin(); it != metrics.end(); ++it)
    width = std::max(width, it.key().size());
  auto pad = [](std::string s, size_t w) {
    s.resize(std::max(s.size(), w), ' ');
    return s;
  };
  out << pad("metric", width) << "  " << pad("mean", 8) << "  " << pad("95% CI", 19) << "  n\n";
  for (auto it = metrics.begin(); it != metrics.end(); ++it) {
    const json& m = it.value();
    out << pad(it.key(), width) << "  " << pad(fmt(m.value("mean", 0.0)), 8) << "  "
        << pad("[" + fmt(m.value("ci_low", 0.0)) + ", " + fmt(m.value("ci_high", 0.0)) + "]", 19)
        << "  " << m.value("n", 0) << "\n";
  }
  if (summary.contains("judges")) print_judge_summary(summary, out);
}

}  // namespace assay::eval
