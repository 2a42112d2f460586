// The Judge and Loglik stages (eval/stages.h): the shape of a stage over judge_stage.h and
// loglik_stage.h.
#include <chrono>
#include <csignal>

#include "core/error.h"
#include "core/http_client.h"
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
  state.judged =
      run_judge_stage(state.settings, state.ds, state.folder->dir(), bootstrap_draws(state));
  state.timings["judge_s"] =
      state.judged ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                   : 0.0;
  return state.judged && state.judged->interrupted ? StageOutcome::kStopped : StageOutcome::kDone;
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
