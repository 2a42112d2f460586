// Llama and Mistral: config.json fields on top of the common ones. Llama's `attention_bias` puts
// a bias on q/k/v/o; Mistral has no biases and may mask keys beyond `sliding_window`.
#include "core/error.h"
#include "inference/models/families.h"

namespace assay::inference::models {

void configure_llama(const nlohmann::json& json, const std::string& label, ModelConfig& config) {
  const bool bias = json_bool(json, "attention_bias", false, label);
  config.qkv_bias = bias;
  config.o_bias = bias;
  if (json_bool(json, "mlp_bias", false, label)) {
    throw_invalid(label + ": field 'mlp_bias' = true is not supported");
  }
  config.head_dim = json_int(json, "head_dim", 0, label);
}

void configure_mistral(const nlohmann::json& json, const std::string& label, ModelConfig& config) {
  config.head_dim = json_int(json, "head_dim", 0, label);
  config.sliding_window = json_int(json, "sliding_window", 0, label);
}

}  // namespace assay::inference::models
