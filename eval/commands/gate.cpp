// `evaluate gate DIR`: the config's CI gates against a finished run (or compare) folder.
#include <CLI/CLI.hpp>

#include "core/error.h"
#include "eval/commands/command.h"
#include "eval/commands/config_flags.h"
#include "eval/gates.h"

namespace assay::eval {
namespace {

class GateCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* gate = app.add_subcommand(
        "gate",
        "Check the config's CI gates against a finished run folder (exit 3 if one fails). Keys: "
        "METRIC[.FIELD], judge.CRITERION[.FIELD], corpus.NAME[.FIELD], judge_usage.FIELD, "
        "compare.METRIC[.FIELD]; judge reliability: judge.CRITERION.agreement|flip_rate|kappa|"
        "alpha|human_kappa|lc_win_rate, judge.calibrated.CRITERION[.mean|.ci_low|.ci_high], "
        "judge.kappa|alpha|agreement|flip_rate|human_kappa|human_alpha (weakest criterion)");
    gate->add_option("dir", dir_, "Run folder (or compare output folder)")->required();
    gate->add_option("--config,-c", config_, "Config with gates (env EVAL_CONFIG, EVAL_GATES)");
    return gate;
  }
  // The config's gates (or EVAL_GATES) against an existing folder; exit 2 when there is none.
  int run(std::ostream& out) override {
    std::vector<Gate> gates = gates_from_config(resolve_config(config_file_sources(config_)));
    if (gates.empty()) {
      throw_invalid("no gates to check: set `gates` in the config (-c) or EVAL_GATES");
    }
    return report_gates(evaluate_gates(gates, dir_), out);
  }

 private:
  std::string dir_, config_;
};

}  // namespace

std::unique_ptr<Command> make_gate_command() {
  return std::make_unique<GateCommand>();
}

}  // namespace assay::eval
