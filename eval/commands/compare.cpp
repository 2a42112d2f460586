// `evaluate compare RUN_A RUN_B`: a paired comparison of two run folders, then the gates.
#include <CLI/CLI.hpp>

#include "eval/commands/command.h"
#include "eval/commands/config_flags.h"
#include "eval/compare_command.h"

namespace assay::eval {
namespace {

class CompareCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* compare = app.add_subcommand(
        "compare",
        "Compare two runs sample by sample: per-metric A-B with paired-bootstrap CIs "
        "and p-values; writes compare.json, then checks the config's gates");
    compare->add_option("run_a", options_.compare.run_a, "Run folder of model A")->required();
    compare->add_option("run_b", options_.compare.run_b, "Run folder of model B")->required();
    compare->add_option("--output,-o", options_.output, "Folder for compare.json (default: RUN_A)");
    compare->add_option("--metrics,-m", metrics_,
                        "Comma-separated: metric names, judge[.NAME], corpus[.NAME] (default: "
                        "all both runs have)");
    compare->add_option("--config,-c", config_,
                        "Config with bootstrap.* and gates (env EVAL_CONFIG, EVAL_GATES)");
    compare->add_flag("--force", options_.compare.force,
                      "Compare runs that are not completed; replace a compare.json of another "
                      "pair");
    return compare;
  }
  int run(std::ostream& out) override {
    options_.sources = config_file_sources(config_);
    options_.compare.metrics = split_commas(metrics_);
    return run_compare_command(options_, out);
  }

 private:
  CompareCommandOptions options_;
  std::string config_, metrics_;
};

}  // namespace

std::unique_ptr<Command> make_compare_command() {
  return std::make_unique<CompareCommand>();
}

}  // namespace assay::eval
