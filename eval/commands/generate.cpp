// `evaluate generate`: a continuation of one prompt with a model.
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/commands/command.h"
#include "eval/commands/config_flags.h"
#include "inference/generation.h"
#include "inference/local_model.h"
#include "inference/tokenizer.h"

namespace assay::eval {
namespace {

struct GenerateCommandOptions {
  std::string model;                    // model folder, adapter folder or model.tar.gz (required)
  std::string prompt;                   // text to continue; "" = BOS alone
  inference::EngineOptions engine;      // device, dtype, base model, threads
  inference::GenerateOptions generate;  // max_new_tokens, greedy, temperature, seed
  bool json = false;  // print {"ids": [generated ids], "text": decoded} instead of text
};
int run_generate_command(const GenerateCommandOptions& options, std::ostream& out) {
  if (options.model.empty()) throw_invalid("generate: --model is required");
  auto engine = inference::load_local_model(options.model, options.engine);
  const inference::ModelConfig& config = engine->config();
  const auto tokenizer = inference::Tokenizer::load(engine->files().tokenizer_dir);
  if (tokenizer->vocab_size() > static_cast<size_t>(config.vocab_size)) {
    throw_invalid((engine->files().tokenizer_dir / "tokenizer").string() + ": the tokenizer has " +
                  std::to_string(tokenizer->vocab_size()) +
                  " ids but config.json 'vocab_size' is " + std::to_string(config.vocab_size) +
                  ": tokenizer and model do not belong together");
  }
  std::vector<int32_t> prompt;
  if (options.prompt.empty()) {
    std::optional<int32_t> bos = config.bos_token_id ? config.bos_token_id : tokenizer->bos_id();
    if (!bos) throw_invalid("generate: empty prompt but the model has no BOS token to start from");
    prompt.push_back(*bos);
  } else {
    prompt = tokenizer->encode(options.prompt, /*add_special_tokens=*/true);
    if (prompt.empty()) throw_invalid("generate: the prompt encodes to no tokens");
  }
  const std::vector<int32_t> ids = engine->generate(prompt, options.generate);
  const std::string text = tokenizer->decode(ids, /*skip_special_tokens=*/true);
  if (options.json) {
    nlohmann::json line = {{"ids", ids}, {"text", text}};
    out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  } else {
    out << text << '\n';
  }
  return kExitOk;
}

class GenerateCommand final : public Command {
 public:
  GenerateCommand() { options_.generate.greedy = false; }  // the CLI samples unless --greedy

  CLI::App* add_to(CLI::App& app) override {
    CLI::App* generate = app.add_subcommand("generate", "Generate a continuation of one prompt");
    generate
        ->add_option("--model", options_.model, "Model folder, LoRA adapter folder or model.tar.gz")
        ->required();
    generate->add_option("--prompt", options_.prompt, "Text to continue (empty: BOS alone)");
    check_max_new_tokens(generate->add_option("--max-new-tokens", options_.generate.max_new_tokens,
                                              "Tokens to generate at most"));
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
