#include "eval/generate_command.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "inference/local_model.h"
#include "inference/tokenizer.h"

namespace assay::eval {

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

}  // namespace assay::eval
