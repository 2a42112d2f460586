#include "eval/score_command.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "core/error.h"
#include "core/http_client.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "eval/dataset.h"
#include "eval/emf.h"
#include "eval/judge_stage.h"
#include "eval/report.h"
#include "eval/run_folder.h"
#include "eval/run_settings.h"
#include "scoring/scorer.h"

namespace assay::eval {
using nlohmann::json;

namespace {
constexpr int kSummarySchema = 1;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}
}  // namespace

static void print_judge_summary(const json& summary, std::ostream& out) {
  const json& usage = summary.value("judge_usage", json::object());
  out << "\njudge " << usage.value("provider", "") << " / " << usage.value("model", "")
      << " / rubric " << usage.value("rubric", "") << ": " << usage.value("calls", 0)
      << " calls, " << usage.value("cache_hits", 0) << " cache hits, "
      << usage.value("retries", 0) << " retries";
  if (usage.contains("cost_usd") && usage["cost_usd"].is_number()) {
    out << ", $" << fmt(usage["cost_usd"].get<double>());
  }
  out << "\n";
  for (const auto& [name, c] : summary["judges"].items()) {
    out << "  " << name << ": mean "
        << (c["mean"].is_number() ? fmt(c["mean"].get<double>()) : std::string("-")) << "  [";
    out << (c["ci_low"].is_number() ? fmt(c["ci_low"].get<double>()) : std::string("-")) << ", "
        << (c["ci_high"].is_number() ? fmt(c["ci_high"].get<double>()) : std::string("-"))
        << "]  n " << c.value("n", 0) << "  errors " << c.value("n_errors", 0) << "\n";
  }
}

json write_scores_and_summary(const std::filesystem::path& dir, const std::string& command,
                              const Dataset& ds, const RunScores& scores,
                              const scoring::BootstrapOptions& bootstrap, const json& extra) {
  std::string lines;
  for (size_t i = 0; i < ds.samples.size(); ++i) {
    json line = {{"id", ds.samples[i].id}, {"metrics", scores.metric_rows[i]}};
    if (scores.judged) line.update(scores.judged->per_sample[i]);
    lines += to_jsonl_line(line);
    lines += '\n';
  }
  atomic_write(dir / "scores.jsonl", lines);
  json summary = {{"schema_version", kSummarySchema},
                  {"command", command},
                  {"n_samples", ds.samples.size()},
                  {"metrics", scores.metrics},
                  {"bootstrap",
                   {{"resamples", bootstrap.resamples},
                    {"seed", bootstrap.seed},
                    {"confidence", bootstrap.confidence},
                    {"method", "percentile"}}}};
  summary.update(extra);
  if (!scores.corpus.empty()) summary["corpus"] = scores.corpus;
  if (scores.judged) {
    summary["judges"] = scores.judged->judges;
    summary["judge_usage"] = scores.judged->judge_usage;
  }
  atomic_write(dir / "summary.json", summary.dump(2) + "\n");
  try {  // the reports are derived files: a failure is worth a warning, not the run
    write_reports(dir);
  } catch (const std::exception& e) {
    log::warn("could not write report.md / report.html", {{"error", e.what()}});
  }
  try {  // CloudWatch Embedded Metric Format lines on stdout, when on (eval/emf.h)
    emit_emf_if_enabled(dir, std::cout);
  } catch (const std::exception& e) {
    log::warn("could not write the EMF metric lines", {{"error", e.what()}});
  }
  return summary;
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

int run_score_command(const ScoreCommandOptions& options, std::ostream& out) {
  auto t0 = std::chrono::steady_clock::now();
  ResolvedConfig cfg = resolve_config(options.sources);
  RunSettings settings = run_settings_from(cfg);
  if (settings.dataset.empty()) {
    throw_invalid("no dataset: pass --dataset, set DATASET_PATH, or set `dataset` in the config");
  }
  if (settings.output.empty()) {
    throw_invalid("no output folder: pass --output, set OUTPUT_DIR, or set `output` in the config");
  }
  scoring::resolve_metrics(settings.metrics);  // rejects model metrics (answer_tokens, perplexity)
  DatasetNeeds needs;
  needs.reference = true;
  needs.prediction = true;
  Dataset ds = load_dataset(settings.dataset, settings.fields, needs);
  double load_s = seconds_since(t0);

  RunIdentity identity{"score", cfg.identity_hash(), {{"dataset_sha256", ds.sha256}}};
  RunFolder folder(settings.output, identity, cfg.redacted(), options.overwrite);
  if (folder.state() == RunState::kCompleted) {
    json summary = json::parse(read_file(folder.file("summary.json")));
    out << "Already completed with the same config and inputs; nothing to do: "
        << folder.dir().string() << "\n";
    print_summary(summary, out);
    return kExitOk;
  }
  folder.mark_running();
  try {
    folder.update({{"dataset",
                    {{"path", ds.path}, {"sha256", ds.sha256}, {"n_samples", ds.samples.size()}}}});
    log::info("scoring", {{"samples", ds.samples.size()}, {"dataset", ds.path}});
    auto t1 = std::chrono::steady_clock::now();
    std::vector<std::string> predictions, references;
    predictions.reserve(ds.samples.size());
    references.reserve(ds.samples.size());
    for (const auto& s : ds.samples) {
      predictions.push_back(*s.prediction);
      references.push_back(s.reference);
    }
    Progress progress("scoring", predictions.size());
    scoring::ScoredDataset scored =
        scoring::score_dataset(predictions, references, settings.metrics, settings.bootstrap,
                               [&](size_t n) { progress.advance(n); });
    progress.finish();
    double score_s = seconds_since(t1);
    auto t2 = std::chrono::steady_clock::now();
    std::optional<JudgeStageOutput> judged = run_judge_stage(settings, ds, folder.dir());
    if (judged && judged->interrupted) {  // judgments so far are cached: a rerun resumes
      folder.mark_interrupted();
      return stop_signal() == SIGTERM ? kExitSigterm : kExitSigint;
    }

    RunScores scores;
    scores.metric_rows.assign(ds.samples.size(), json::object());
    for (size_t i = 0; i < ds.samples.size(); ++i) {
      for (size_t c = 0; c < scored.columns.size(); ++c) {
        scores.metric_rows[i][scored.columns[c]] = scored.values[i][c];
      }
    }
    scores.metrics = scored.summary;
    scores.corpus = scored.corpus;
    scores.judged = judged ? &*judged : nullptr;
    json summary = write_scores_and_summary(folder.dir(), "score", ds, scores, settings.bootstrap);
    folder.update({{"timings", {{"load_s", load_s}, {"score_s", score_s},
                                {"judge_s", judged ? seconds_since(t2) : 0.0}}}});
    folder.mark_completed();
    out << "Scored " << ds.samples.size() << " samples -> " << folder.dir().string() << "\n";
    print_summary(summary, out);
  } catch (const std::exception& e) {
    folder.mark_failed(e.what());
    throw;
  }
  return kExitOk;
}

}  // namespace assay::eval
