// `evaluate inspect MODEL`: architecture, parameters, dtypes, LoRA, tokenizer, special tokens.
#include <CLI/CLI.hpp>

#include "eval/commands/command.h"
#include "eval/inspect_command.h"

namespace assay::eval {
namespace {

class InspectCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* inspect = app.add_subcommand(
        "inspect",
        "Describe a model: architecture, parameters, dtypes, LoRA, tokenizer, special tokens");
    inspect
        ->add_option("model", options_.model, "Model folder, LoRA adapter folder or model.tar.gz")
        ->required();
    inspect->add_option("--base-model", options_.base_model,
                        "Base model folder for a LoRA adapter");
    inspect->add_flag("--json", options_.json, "Print one JSON object");
    return inspect;
  }
  int run(std::ostream& out) override { return run_inspect_command(options_, out); }

 private:
  InspectCommandOptions options_;
};

}  // namespace

std::unique_ptr<Command> make_inspect_command() {
  return std::make_unique<InspectCommand>();
}

}  // namespace assay::eval
