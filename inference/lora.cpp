#include "inference/lora.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "inference/model_config.h"

namespace assay::inference {
namespace fs = std::filesystem;
using nlohmann::json;

double LoraAdapter::scale() const {
  return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
}

LoraAdapter load_lora_adapter(const fs::path& dir) {
  LoraAdapter adapter;
  adapter.dir = dir;
  const fs::path config_path = dir / "adapter_config.json";
  const std::string label = config_path.string();
  json config;
  try {
    config = json::parse(read_file(config_path));
  } catch (const json::exception& e) {
    throw_invalid(label + ": not valid JSON: " + e.what());
  }
  if (!config.is_object()) throw_invalid(label + ": not a JSON object");
  if (auto t = config.find("peft_type");
      t != config.end() && !(t->is_string() && t->get<std::string>() == "LORA")) {
    throw_invalid(label + ": field 'peft_type' is " + t->dump() +
                  "; only LORA adapters are supported");
  }
  if (!config.contains("r") || !config["r"].is_number_integer() ||
      config["r"].get<int64_t>() <= 0) {
    throw_invalid(label + ": field 'r' must be a positive integer");
  }
  adapter.r = config["r"].get<int64_t>();
  if (!config.contains("lora_alpha") || !config["lora_alpha"].is_number()) {
    throw_invalid(label + ": field 'lora_alpha' must be a number");
  }
  adapter.alpha = config["lora_alpha"].get<double>();
  if (config.contains("use_rslora") && config["use_rslora"].is_boolean())
    adapter.use_rslora = config["use_rslora"].get<bool>();
  if (config.contains("fan_in_fan_out") && config["fan_in_fan_out"].is_boolean() &&
      config["fan_in_fan_out"].get<bool>()) {
    throw_invalid(label + ": field 'fan_in_fan_out' = true is not supported (Conv1D layers)");
  }
  for (const char* field : {"rank_pattern", "alpha_pattern"}) {
    if (config.contains(field) && config[field].is_object() && !config[field].empty()) {
      throw_invalid(label + ": field '" + std::string(field) + "' is not supported");
    }
  }
  if (config.contains("modules_to_save") && config["modules_to_save"].is_array() &&
      !config["modules_to_save"].empty()) {
    throw_invalid(label +
                  ": field 'modules_to_save' is not supported (the adapter carries full weights)");
  }
  if (config.contains("use_dora") && config["use_dora"].is_boolean() &&
      config["use_dora"].get<bool>()) {
    throw_invalid(label + ": field 'use_dora' = true is not supported");
  }
  if (auto t = config.find("target_modules"); t != config.end()) {
    if (t->is_string()) {
      adapter.target_modules.push_back(t->get<std::string>());
    } else if (t->is_array()) {
      for (const json& m : *t) {
        if (m.is_string()) adapter.target_modules.push_back(m.get<std::string>());
      }
    }
  }
  if (auto b = config.find("base_model_name_or_path"); b != config.end() && b->is_string()) {
    adapter.base_model_name_or_path = b->get<std::string>();
  }

  std::error_code ec;
  const fs::path weights_path = dir / "adapter_model.safetensors";
  if (!fs::exists(weights_path, ec)) {
    if (fs::exists(dir / "adapter_model.bin", ec)) {
      throw_invalid((dir / "adapter_model.bin").string() +
                    ": pickle adapters are not supported; save with safetensors");
    }
    throw_not_found(weights_path.string() + ": no such file");
  }
  adapter.weights = WeightSet::open_file(weights_path);
  const std::string wlabel = weights_path.string();
  const std::string prefix = "base_model.model.";
  std::map<std::string, TensorView> a_of, b_of;
  for (const std::string& name : adapter.weights.names()) {
    std::string base;
    bool is_a = false;
    for (const char* which : {".lora_A", ".lora_B"}) {
      for (const char* suffix : {".weight", ".default.weight"}) {
        const std::string tail = std::string(which) + suffix;
        if (name.size() > tail.size() &&
            name.compare(name.size() - tail.size(), tail.size(), tail) == 0) {
          base = name.substr(0, name.size() - tail.size());
          is_a = std::string(which) == ".lora_A";
        }
      }
    }
    if (base.empty() || base.rfind(prefix, 0) != 0) {
      throw_invalid(wlabel + ": tensor '" + name +
                    "' is not a PEFT LoRA key (base_model.model.<module>.lora_A/B.weight)");
    }
    base = base.substr(prefix.size()) + ".weight";
    (is_a ? a_of : b_of)[base] = adapter.weights.get(name);
  }
  for (const auto& [base, a] : a_of) {
    auto b = b_of.find(base);
    if (b == b_of.end()) throw_invalid(wlabel + ": '" + base + "' has lora_A but no lora_B");
    if (a.shape().size() != 2 || b->second.shape().size() != 2 || a.shape()[0] != adapter.r ||
        b->second.shape()[1] != adapter.r) {
      throw_invalid(wlabel + ": '" + base + "': lora_A " + std::to_string(a.shape().size()) +
                    "-d / lora_B shapes do not "
                    "match rank r = " +
                    std::to_string(adapter.r) + " from adapter_config.json");
    }
    adapter.pairs[base] = LoraPair{a, b->second};
  }
  for (const auto& [base, b] : b_of) {
    if (!a_of.count(base)) throw_invalid(wlabel + ": '" + base + "' has lora_B but no lora_A");
  }
  if (adapter.pairs.empty()) throw_invalid(wlabel + ": holds no LoRA weights");
  return adapter;
}

void check_lora_against(const LoraAdapter& adapter, const WeightSet& base) {
  const std::string wlabel = (adapter.dir / "adapter_model.safetensors").string();
  for (const auto& [name, pair] : adapter.pairs) {
    TensorView w = base.find(name);
    if (w.info == nullptr) {
      throw_invalid(wlabel + ": adapts '" + name + "' which the base model (" + base.label() +
                    ") does not have");
    }
    if (w.shape().size() != 2 || pair.a.shape()[1] != w.shape()[1] ||
        pair.b.shape()[0] != w.shape()[0]) {
      throw_invalid(wlabel + ": '" + name + "': lora_B " + shape_string(pair.b.shape()) +
                    " x lora_A " + shape_string(pair.a.shape()) +
                    " does not match the base weight's shape " + shape_string(w.shape()));
    }
  }
}

}  // namespace assay::inference
