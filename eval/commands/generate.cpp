// `evaluate generate`: a continuation of one prompt with a model.
#include <CLI/CLI.hpp>

#include "eval/commands/command.h"
#include "eval/generate_command.h"

namespace assay::eval {
namespace {

class GenerateCommand final : public Command {
 public:
  GenerateCommand() { options_.generate.greedy = false; }  // the CLI samples unless --greedy

  CLI::App* add_to(CLI::App& app) override {
    CLI::App* generate = app.add_subcommand("generate", "Generate a continuation of one prompt");
    generate
        ->add_option("--model", options_.model, "Model folder, LoRA adapter folder or model.tar.gz")
        ->required();
    generate->add_option("--prompt", options_.prompt, "Text to continue (empty: BOS alone)");
    generate
        ->add_option("--max-new-tokens", options_.generate.max_new_tokens,
                     "Tokens to generate at most")
        ->check(CLI::NonNegativeNumber);
    generate->add_flag("--greedy", options_.generate.greedy, "Argmax decoding (default: sample)");
    generate
        ->add_option("--temperature", options_.generate.temperature, "Sampling temperature (> 0)")
        ->check(CLI::PositiveNumber);
    generate->add_option("--seed", options_.generate.seed, "Sampling seed");
    generate->add_option("--base-model", options_.engine.base_model,
                         "Base model folder for a LoRA adapter");
    generate
        ->add_option("--device", options_.engine.device, "cpu, cuda or cuda:N (env EVAL_DEVICE)")
        ->envname("EVAL_DEVICE");
    generate->add_option("--dtype", options_.engine.dtype, "float32, bfloat16 or auto");
    generate->add_option("--threads", options_.engine.threads, "CPU threads (0: all)");
    generate->add_flag("--json", options_.json, "Print {\"ids\": [...], \"text\": ...}");
    return generate;
  }
  int run(std::ostream& out) override { return run_generate_command(options_, out); }

 private:
  GenerateCommandOptions options_;
};

}  // namespace

std::unique_ptr<Command> make_generate_command() {
  return std::make_unique<GenerateCommand>();
}

}  // namespace assay::eval
