// Qwen2 (biases on q/k/v, none on o) and Qwen3 (no biases by default, per-head RMSNorm on q and
// k before RoPE, an explicit `head_dim`). Sliding-window layers (`use_sliding_window`) are not
// supported: no released Qwen2/Qwen3 checkpoint enables them.
#include "core/error.h"
#include "inference/models/families.h"

namespace assay::inference::models {

namespace {

void reject_sliding_window(const nlohmann::json& json, const std::string& label) {
  if (json_bool(json, "use_sliding_window", false, label)) {
    throw_invalid(label + ": field 'use_sliding_window' = true is not supported");
  }
}

}  // namespace

void configure_qwen2(const nlohmann::json& json, const std::string& label, ModelConfig& config) {
  reject_sliding_window(json, label);
  config.qkv_bias = true;
  config.o_bias = false;
}

void configure_qwen3(const nlohmann::json& json, const std::string& label, ModelConfig& config) {
  reject_sliding_window(json, label);
  const bool bias = json_bool(json, "attention_bias", false, label);
  config.qkv_bias = bias;
  config.o_bias = bias;
  config.qk_norm = true;
  config.head_dim = json_int(json, "head_dim", 0, label);
}

}  // namespace assay::inference::models
