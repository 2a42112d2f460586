// What every command's stages share (eval/run_state.h: run_in_folder, the run's bootstrap draws,
// judge-error bookkeeping) and the Judge and Loglik stages (eval/stages.h) in the stage shape over
// judge_stage.h and loglik_stage.h.
#include <chrono>
#include <csignal>
#include <cstdio>

#include "core/error.h"
#include "core/http_client.h"
#include "core/log.h"
#include "eval/loglik_stage.h"
#include "eval/model_handle.h"
#include "eval/stages.h"

namespace assay::eval {

int stopped_exit_code() {
  return stop_signal() == SIGTERM ? kExitSigterm : kExitSigint;
}

const scoring::BootstrapDraws& bootstrap_draws(RunState& state) {
  if (!state.draws) {
    state.draws = scoring::make_bootstrap_draws(state.ds.samples.size(), state.settings.bootstrap);
  }
  return *state.draws;
}

int run_in_folder(RunFolder& folder, const std::function<StageOutcome()>& stages) {
  folder.mark_running();
  try {
    if (stages() == StageOutcome::kStopped) {
      folder.mark_interrupted();
      return stopped_exit_code();
    }
    folder.mark_completed();
  } catch (const std::exception& e) {
    folder.mark_failed(e.what());
    throw;
  }
  return kExitOk;
}

StageOutcome judge_stage(RunState& state) {
  const auto t0 = std::chrono::steady_clock::now();
  state.judged = run_judge_stage(state.settings, state.ds, state.folder->dir(),
                                 bootstrap_draws(state), state.judge_bypass_ids);
  state.timings["judge_s"] =
      state.judged ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                   : 0.0;
  return state.judged && state.judged->interrupted ? StageOutcome::kStopped : StageOutcome::kDone;
}

bool judge_errors_to_retry(const RunFolder& folder, bool retry_all, RunState& state) {
  if (state.settings.judge.provider.empty() || folder.state() == FolderState::kFresh) return false;
  JudgeErrorsOnFile errors = judge_errors_on_file(folder.file("scores.jsonl"));
  if (retry_all) state.judge_bypass_ids = std::move(errors.lasting_ids);
  const bool again = errors.transient > 0 || !state.judge_bypass_ids.empty();
  if (again) {
    log::info("judging again the samples with judge errors",
              {{"transient", errors.transient}, {"lasting", state.judge_bypass_ids.size()}});
  }
  return folder.state() == FolderState::kCompleted && again;
}

void check_judge_errors(RunState& state, std::ostream& out) {
  if (!state.judged) return;
  size_t n_errors = 0, n_budget = 0;
  for (const auto& line : state.judged->per_sample) {
    n_errors += line.contains("judge_error");
    n_budget += line.contains("judge_error") && line["judge_error"].value("kind", "") == "budget";
  }
  state.folder->update({{"judge_errors", n_errors}});
  const size_t n = state.judged->per_sample.size();
  if (n_budget > 0) {
    // The cap was asked for: a warning, not a failure; the samples it left count as unjudged.
    const double cap = state.settings.judge.max_cost_usd;
    out << "Judge budget: judge.max_cost_usd " << cap << " USD reached; " << n_budget << " of " << n
        << " samples were not judged (judge_error kind budget). Rerun with a higher "
        << "judge.max_cost_usd to judge them; replies already paid for come from the cache\n";
    log::warn("judge budget reached: some samples were not judged",
              {{"max_cost_usd", cap}, {"not_judged", n_budget}, {"samples", n}});
    n_errors -= n_budget;
  }
  if (n_errors == 0) return;
  const double rate = static_cast<double>(n_errors) / static_cast<double>(n);
  const double max_rate = state.settings.judge.max_error_rate;
  char share[64];
  std::snprintf(share, sizeof share, " (%.1f%%, judge.max_error_rate %g)", 100.0 * rate, max_rate);
  const std::string what =
      std::to_string(n_errors) + " of " + std::to_string(n) + " samples have a judge error" + share;
  out << "Judge errors: " << what << "; rerun the same command to retry the transient ones\n";
  if (rate > max_rate) {
    throw Error(ErrorKind::kRemote,
                what +
                    ": the judge endpoint failed too often; outputs are written, and a rerun "
                    "once it recovers judges only those samples again");
  }
  log::warn("some samples have no judgment",
            {{"judge_errors", n_errors}, {"samples", n}, {"max_error_rate", max_rate}});
}

StageOutcome loglik_stage(RunState& state) {
  if (state.loglik_columns.empty()) return StageOutcome::kDone;
  ASSAY_CHECK(state.model != nullptr);
  const LoglikStage loglik(state.loglik_columns);
  loglik.add_to(state.scores, state.ds, state.generations, *state.model, state.settings,
                bootstrap_draws(state));
  return StageOutcome::kDone;
}

}  // namespace assay::eval
