// `evaluate inspect MODEL`: architecture, parameters, dtypes, LoRA, tokenizer, special tokens.
#include <map>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/commands/command.h"
#include "inference/lora.h"
#include "inference/model_config.h"
#include "inference/model_files.h"
#include "inference/safetensors.h"
#include "inference/tokenizer.h"

namespace assay::eval {
namespace {

struct InspectCommandOptions {
  std::string model;  // model folder, adapter folder or model.tar.gz (required)
  std::string
      base_model;     // base for a LoRA adapter; "" = adapter_config.json's base_model_name_or_path
  bool json = false;  // print the description as one JSON object instead of text
};
using nlohmann::json;
namespace inf = assay::inference;

// Parameter count and element count per dtype of a weight set.
json weight_summary(const inf::WeightSet& weights) {
  int64_t params = 0;
  std::map<std::string, int64_t> by_dtype;
  for (const std::string& name : weights.names()) {
    inf::TensorView view = weights.get(name);
    params += view.numel();
    by_dtype[inf::dtype_name(view.dtype())] += view.numel();
  }
  return {{"parameters", params}, {"dtypes", by_dtype}, {"tensors", weights.names().size()}};
}

json inspect_model(const InspectCommandOptions& options) {
  if (options.model.empty()) throw_invalid("inspect: a MODEL path is required");
  inf::ModelFiles files = inf::resolve_model_files(options.model, options.base_model);
  const inf::ModelConfig c = inf::load_model_config(files.weights_dir);
  const inf::WeightSet weights = inf::WeightSet::open(files.weights_dir);
  inf::check_weights(c, weights, (files.weights_dir / "config.json").string());
  json out = {{"model", options.model},
              {"architecture", c.architecture},
              {"family", c.family},
              {"layers", c.num_layers},
              {"hidden_size", c.hidden_size},
              {"intermediate_size", c.intermediate_size},
              {"attention_heads", c.num_heads},
              {"kv_heads", c.num_kv_heads},
              {"head_dim", c.head_dim},
              {"vocab_size", c.vocab_size},
              {"max_position_embeddings", c.max_position_embeddings},
              {"tie_word_embeddings", c.tie_word_embeddings},
              {"weights", weight_summary(weights)}};
  if (!files.adapter_dir.empty()) {
    const inf::LoraAdapter adapter = inf::load_lora_adapter(files.adapter_dir);
    inf::check_lora_against(adapter, weights);
    json lora = weight_summary(adapter.weights);
    lora["r"] = adapter.r;
    lora["alpha"] = adapter.alpha;
    lora["target_modules"] = adapter.target_modules;
    lora["base_model"] = files.weights_dir.string();
    out["lora"] = lora;
  }
  const auto tokenizer = inf::Tokenizer::load(files.tokenizer_dir);
  json specials = json::array();
  for (const auto& [text, id] : tokenizer->special_tokens())
    specials.push_back({{"text", text}, {"id", id}});
  out["tokenizer"] = {{"kind", inf::tokenizer_kind_name(tokenizer->kind())},
                      {"vocab_size", tokenizer->vocab_size()},
                      {"bos_id", tokenizer->bos_id() ? json(*tokenizer->bos_id()) : json(nullptr)},
                      {"eos_id", tokenizer->eos_id() ? json(*tokenizer->eos_id()) : json(nullptr)},
                      {"special_tokens", specials}};
  return out;
}

int run_inspect_command(const InspectCommandOptions& options, std::ostream& out) {
  const json d = inspect_model(options);
  if (options.json) {
    out << d.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    return kExitOk;
  }
  out << "model:         " << d["model"].get<std::string>() << '\n'
      << "architecture:  " << d["architecture"].get<std::string>() << " (" << d["layers"]
      << " layers, hidden " << d["hidden_size"] << ", FFN " << d["intermediate_size"] << ", "
      << d["attention_heads"] << " heads / " << d["kv_heads"] << " KV heads of " << d["head_dim"]
      << ", vocab " << d["vocab_size"]
      << (d["tie_word_embeddings"].get<bool>() ? ", tied embeddings" : "") << ")\n"
      << "parameters:    " << d["weights"]["parameters"] << " in " << d["weights"]["tensors"]
      << " tensors\n"
      << "dtypes:       ";
  for (const auto& [dtype, n] : d["weights"]["dtypes"].items())
    out << ' ' << dtype << " (" << n << ")";
  out << '\n';
  if (d.contains("lora")) {
    const json& l = d["lora"];
    out << "lora:          r " << l["r"] << ", alpha " << l["alpha"] << ", " << l["parameters"]
        << " parameters, targets";
    for (const json& t : l["target_modules"]) out << ' ' << t.get<std::string>();
    out << "; base " << l["base_model"].get<std::string>() << '\n';
  }
  const json& t = d["tokenizer"];
  out << "tokenizer:     " << t["kind"].get<std::string>() << ", " << t["vocab_size"]
      << " ids, bos " << t["bos_id"].dump() << ", eos " << t["eos_id"].dump() << '\n'
      << "special:      ";
  constexpr size_t kShown = 24;  // Llama-3 has 256 reserved specials: show the first ones
  const json& specials = t["special_tokens"];
  for (size_t i = 0; i < specials.size() && i < kShown; ++i) {
    out << ' ' << specials[i]["text"].dump(-1, ' ', false, json::error_handler_t::replace) << '='
        << specials[i]["id"];
  }
  if (specials.size() > kShown)
    out << " ... (" << specials.size() - kShown << " more; --json lists all)";
  out << '\n';
  return kExitOk;
}

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
