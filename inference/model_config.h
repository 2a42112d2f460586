// Hugging Face config.json -> the options of Assay's decoder-only transformer, for the
// architectures Assay runs (Llama, Mistral, Qwen2, Qwen3), plus the consistency checks between a
// config and the weights that claim to match it. Torch-free: eval's `inspect` uses it too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inference/safetensors.h"

namespace assay::inference {

// `rope_scaling.rope_type` (or the older `type`): none/"default", "linear", "llama3".
enum class RopeType { kDefault, kLinear, kLlama3 };

struct RopeOptions {
  RopeType type = RopeType::kDefault;               // scaling kind
  double theta = 10000.0;                           // rope_theta
  double factor = 1.0;                              // rope_scaling.factor (linear, llama3)
  double low_freq_factor = 1.0;                     // llama3 only
  double high_freq_factor = 4.0;                    // llama3 only
  int64_t original_max_position_embeddings = 8192;  // llama3 only
};

// Everything the forward pass needs to know about a checkpoint.
struct ModelConfig {
  std::string architecture;  // as in config.json, e.g. "Qwen2ForCausalLM"
  std::string family;        // "llama", "mistral", "qwen2", "qwen3"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;    // num_hidden_layers
  int64_t num_heads = 0;     // num_attention_heads
  int64_t num_kv_heads = 0;  // num_key_value_heads (defaults to num_heads)
  int64_t head_dim = 0;      // head_dim field, else hidden_size / num_heads
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  RopeOptions rope;
  bool tie_word_embeddings = false;     // lm_head shares embed_tokens
  bool qkv_bias = false;                // q/k/v projections carry a bias (Qwen2; attention_bias)
  bool o_bias = false;                  // o_proj carries a bias (Llama/Qwen3 attention_bias)
  bool qk_norm = false;                 // per-head RMSNorm on q and k before RoPE (Qwen3)
  int64_t sliding_window = 0;           // Mistral: keys farther back than this are masked; 0 = none
  std::optional<int32_t> bos_token_id;  // config.json / generation_config.json
  std::vector<int32_t> eos_token_ids;   // generation_config.json wins over config.json
  std::string torch_dtype;              // as declared ("float32", "bfloat16", ...); informational
};

// Parses a config.json document. `label` names the file in messages. Throws assay::Error
// (invalid input) naming the file and field: missing/ill-typed field, unknown architecture (naming
// it and the supported ones), heads that do not divide, unsupported rope_scaling.
ModelConfig parse_model_config(const nlohmann::json& config, const std::string& label);

// Reads `dir`/config.json (and generation_config.json when present, for BOS/EOS). Throws
// assay::Error: not found (no config.json), invalid input (bad JSON or content).
ModelConfig load_model_config(const std::filesystem::path& dir);

// RoPE inverse frequencies (head_dim / 2 values) after rope_scaling, as Hugging Face computes them.
std::vector<double> rope_inv_freq(const ModelConfig& config);

// One weight a config implies: HF name and shape.
struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// Every weight the forward pass reads, in load order. lm_head.weight is absent when tied.
std::vector<WeightSpec> expected_weights(const ModelConfig& config);

// Checks that `weights` holds every expected tensor with the expected shape. Throws assay::Error
// (invalid input) naming the weights file, the tensor, both shapes and the config field(s) that
// imply the expected shape (`config_label` names config.json).
void check_weights(const ModelConfig& config, const WeightSet& weights,
                   const std::string& config_label);

// Human name of a shape: "[64, 172]".
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace assay::inference
