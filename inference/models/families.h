// The architecture families Assay runs. Each family file (llama.cpp, qwen.cpp) reads the
// config.json fields its architecture adds or defaults differently, on top of the common ones
// model_config.cpp has read. The forward pass itself is shared (models/transformer.cpp).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "inference/model_config.h"

namespace assay::inference::models {

// Fills the family-specific fields of `config` from `json` (already holding the common fields).
// Throws assay::Error (invalid input) naming `label` and the field.
using ConfigureFn = void (*)(const nlohmann::json& json, const std::string& label,
                             ModelConfig& config);

struct Family {
  const char* architecture;  // config.json "architectures"[0]
  const char* family;        // short name
  ConfigureFn configure;
};

void configure_llama(const nlohmann::json& json, const std::string& label, ModelConfig& config);
void configure_mistral(const nlohmann::json& json, const std::string& label, ModelConfig& config);
void configure_qwen2(const nlohmann::json& json, const std::string& label, ModelConfig& config);
void configure_qwen3(const nlohmann::json& json, const std::string& label, ModelConfig& config);

// The table of supported architectures.
inline constexpr Family kFamilies[] = {
    {"LlamaForCausalLM", "llama", configure_llama},
    {"MistralForCausalLM", "mistral", configure_mistral},
    {"Qwen2ForCausalLM", "qwen2", configure_qwen2},
    {"Qwen3ForCausalLM", "qwen3", configure_qwen3},
};

// Small typed readers shared by the family files: absent or null -> `fallback`; wrong type ->
// assay::Error naming `label` and `field`.
bool json_bool(const nlohmann::json& json, const char* field, bool fallback,
               const std::string& label);
int64_t json_int(const nlohmann::json& json, const char* field, int64_t fallback,
                 const std::string& label);

}  // namespace assay::inference::models
