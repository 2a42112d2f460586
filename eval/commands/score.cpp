// `evaluate score`: plan -> Metrics -> Judge -> Summarize over a dataset that already holds
// predictions (as fmeval scores a model_output_location).
#include <chrono>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/http_client.h"
#include "core/log.h"
#include "eval/commands/command.h"
#include "eval/commands/config_flags.h"
#include "eval/plan.h"
#include "eval/stages.h"
#include "judges/rubric.h"

namespace assay::eval {
namespace {
using nlohmann::json;

// A judge reads the question ({{instruction}}) and, for some rubrics, the reference: with a
// judge configured the dataset must have what its rubric reads, checked before anything runs.
void add_judge_needs(const JudgeSettings& judge, DatasetNeeds& needs) {
  if (judge.provider.empty()) return;
  const judges::Rubric rubric = judges::load_rubric(judge.rubric);
  auto reads = [&](const char* placeholder) {
    return rubric.user.find(placeholder) != std::string::npos ||
           rubric.system.find(placeholder) != std::string::npos;
  };
  needs.instruction = needs.instruction || reads("{{instruction}}");
  needs.reference = needs.reference || rubric.needs_reference || reads("{{reference}}");
}

int run_score(const ConfigSources& sources, bool overwrite, bool retry_judge_errors,
              std::ostream& out) {
  const auto t0 = std::chrono::steady_clock::now();
  PlanRequest request;
  request.command = "score";
  request.sources = sources;
  request.overwrite = overwrite;
  const RunPlan plan = plan_run(std::move(request));
  const ModelPlan& mp = plan.models.front();
  RunState st;
  st.settings = mp.settings;
  st.all_have_reference = true;
  DatasetNeeds needs;
  needs.reference = true;
  needs.prediction = true;
  add_judge_needs(st.settings.judge, needs);
  st.ds = load_dataset(st.settings.dataset, st.settings.fields, needs);
  st.timings["load_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RunIdentity identity{"score", mp.config.identity_hash(), {{"dataset_sha256", st.ds.sha256}}};
  RunFolder folder(st.settings.output, identity, mp.config.redacted(), plan.overwrite);
  if (!judge_errors_to_retry(folder, retry_judge_errors, st) &&
      folder.state() == FolderState::kCompleted) {
    return report_already_completed(folder, out);
  }
  st.folder = &folder;
  st.cancel = &global_stop_flag();
  return run_in_folder(folder, [&] {
    folder.update(
        {{"dataset",
          {{"path", st.ds.path}, {"sha256", st.ds.sha256}, {"n_samples", st.ds.samples.size()}}}});
    log::info("scoring", {{"samples", st.ds.samples.size()}, {"dataset", st.ds.path}});
    if (metrics_stage(st) == StageOutcome::kStopped || judge_stage(st) == StageOutcome::kStopped) {
      return StageOutcome::kStopped;  // judgments so far are cached: a rerun resumes
    }
    json summary = summarize_stage(st, "score");
    out << "Scored " << st.ds.samples.size() << " samples -> " << folder.dir().string() << "\n";
    print_summary(summary, out);
    check_judge_errors(st, out);
    return StageOutcome::kDone;
  });
}

class ScoreCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* score =
        app.add_subcommand("score",
                           "Score a dataset that already holds predictions; writes manifest.json, "
                           "scores.jsonl and summary.json to the output folder");
    flags_.add_to(score);
    score->add_flag("--overwrite", overwrite_,
                    "Replace a different run already in the output folder");
    score->add_flag("--retry-judge-errors", retry_judge_errors_,
                    "Judge again every sample with a judge error, unparsable replies included "
                    "(without it a rerun retries only transient errors: timeouts, 429, 5xx)");
    return score;
  }
  int run(std::ostream& out) override {
    return run_score(flags_.sources(), overwrite_, retry_judge_errors_, out);
  }

 private:
  ConfigFlags flags_;
  bool overwrite_ = false;
  bool retry_judge_errors_ = false;
};

}  // namespace

std::unique_ptr<Command> make_score_command() {
  return std::make_unique<ScoreCommand>();
}

}  // namespace assay::eval
