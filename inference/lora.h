// PEFT LoRA adapters: reads adapter_config.json + adapter_model.safetensors and pairs each
// lora_A / lora_B with the base weight it modifies. The merge W += scale * B @ A happens when the
// model loads (models/transformer.cpp); this file is torch-free.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "inference/safetensors.h"

namespace assay::inference {

// The two factors for one base weight. Views point into LoraAdapter::weights.
struct LoraPair {
  TensorView a;  // [r, in_features]
  TensorView b;  // [out_features, r]
};

struct LoraAdapter {
  std::filesystem::path dir;
  int64_t r = 0;                            // adapter_config.json "r"
  double alpha = 0;                         // "lora_alpha"
  bool use_rslora = false;                  // scale = alpha / sqrt(r) instead of alpha / r
  std::vector<std::string> target_modules;  // as written ("q_proj", ...)
  std::string base_model_name_or_path;      // may be a hub id (unusable) or a local path
  WeightSet weights;                        // adapter_model.safetensors
  std::map<std::string, LoraPair>
      pairs;  // base weight name ("model.layers.0.self_attn.q_proj.weight") -> A, B

  // alpha / r (or alpha / sqrt(r) with rslora).
  double scale() const;
};

// Loads an adapter folder. Throws assay::Error naming the file and field: not found (missing
// adapter_config.json / adapter_model.safetensors), invalid input (not a LORA peft_type, bad r or
// alpha, fan_in_fan_out, alpha/rank patterns, modules_to_save, a key that is not
// `base_model.model.<name>.lora_{A,B}.weight`, an A without its B, A/B shapes not [r, in]/[out,
// r]).
LoraAdapter load_lora_adapter(const std::filesystem::path& dir);

// Checks every pair against the base weights' shapes: A is [r, in], B is [out, r] for a base
// weight [out, in] that exists. Throws assay::Error (invalid input) naming the adapter file.
void check_lora_against(const LoraAdapter& adapter, const WeightSet& base);

}  // namespace assay::inference
