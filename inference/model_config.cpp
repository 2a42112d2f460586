#include "inference/model_config.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "core/fs.h"
#include "inference/models/families.h"

namespace assay::inference {
namespace fs = std::filesystem;
using nlohmann::json;

namespace models {

bool json_bool(const json& j, const char* field, bool fallback, const std::string& label) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw_invalid(label + ": field '" + field + "' must be true or false");
  return it->get<bool>();
}

int64_t json_int(const json& j, const char* field, int64_t fallback, const std::string& label) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) throw_invalid(label + ": field '" + field + "' must be an integer");
  return it->get<int64_t>();
}

}  // namespace models

namespace {

double json_double(const json& j, const char* field, double fallback, const std::string& label) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw_invalid(label + ": field '" + field + "' must be a number");
  return it->get<double>();
}

int64_t required_positive(const json& j, const char* field, const std::string& label) {
  if (!j.contains(field) || j[field].is_null())
    throw_invalid(label + ": missing field '" + field + "'");
  int64_t v = models::json_int(j, field, 0, label);
  if (v <= 0)
    throw_invalid(label + ": field '" + field + "' must be positive (got " + std::to_string(v) +
                  ")");
  return v;
}

// bos/eos fields: an integer, or (eos) a list of integers.
void read_special_ids(const json& j, const std::string& label, ModelConfig& config) {
  if (auto it = j.find("bos_token_id"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer())
      throw_invalid(label + ": field 'bos_token_id' must be an integer");
    config.bos_token_id = it->get<int32_t>();
  }
  if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    std::vector<int32_t> ids;
    if (it->is_number_integer()) {
      ids.push_back(it->get<int32_t>());
    } else if (it->is_array()) {
      for (const json& v : *it) {
        if (!v.is_number_integer())
          throw_invalid(label + ": field 'eos_token_id' must hold integers");
        ids.push_back(v.get<int32_t>());
      }
    } else {
      throw_invalid(label + ": field 'eos_token_id' must be an integer or a list of integers");
    }
    config.eos_token_ids = ids;
  }
}

void read_rope(const json& j, const std::string& label, ModelConfig& config) {
  config.rope.theta = json_double(j, "rope_theta", 10000.0, label);
  if (config.rope.theta <= 0) throw_invalid(label + ": field 'rope_theta' must be positive");
  auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return;
  if (!it->is_object()) throw_invalid(label + ": field 'rope_scaling' must be an object or null");
  std::string type;
  if (it->contains("rope_type") && (*it)["rope_type"].is_string()) {
    type = (*it)["rope_type"].get<std::string>();
  } else if (it->contains("type") && (*it)["type"].is_string()) {
    type = (*it)["type"].get<std::string>();
  } else {
    throw_invalid(label + ": field 'rope_scaling.rope_type' is missing");
  }
  const std::string where = label + ": rope_scaling";
  if (type == "default") return;
  if (type != "linear" && type != "llama3") {
    throw_invalid(label + ": rope_scaling type '" + type +
                  "' is not supported (supported: default, linear, llama3)");
  }
  config.rope.factor = json_double(*it, "factor", 0.0, where);
  if (!(config.rope.factor >= 1.0))
    throw_invalid(label + ": field 'rope_scaling.factor' must be >= 1");
  if (type == "linear") {
    config.rope.type = RopeType::kLinear;
    return;
  }
  config.rope.type = RopeType::kLlama3;
  config.rope.low_freq_factor = json_double(*it, "low_freq_factor", 1.0, where);
  config.rope.high_freq_factor = json_double(*it, "high_freq_factor", 4.0, where);
  config.rope.original_max_position_embeddings =
      models::json_int(*it, "original_max_position_embeddings", 8192, where);
  if (!(config.rope.high_freq_factor > config.rope.low_freq_factor) ||
      config.rope.low_freq_factor <= 0 || config.rope.original_max_position_embeddings <= 0) {
    throw_invalid(
        label +
        ": rope_scaling (llama3) needs 0 < low_freq_factor < high_freq_factor and a positive "
        "original_max_position_embeddings");
  }
}

}  // namespace

ModelConfig parse_model_config(const json& j, const std::string& label) {
  if (!j.is_object()) throw_invalid(label + ": not a JSON object");
  ModelConfig config;
  auto arch = j.find("architectures");
  if (arch == j.end() || !arch->is_array() || arch->empty() || !(*arch)[0].is_string()) {
    throw_invalid(label + ": field 'architectures' must be a non-empty list of names");
  }
  config.architecture = (*arch)[0].get<std::string>();
  const models::Family* family = nullptr;
  std::string supported;
  for (const models::Family& f : models::kFamilies) {
    if (config.architecture == f.architecture) family = &f;
    supported += (supported.empty() ? "" : ", ") + std::string(f.architecture);
  }
  if (family == nullptr) {
    throw_invalid(label + ": field 'architectures': architecture '" + config.architecture +
                  "' is not supported (supported: " + supported + ")");
  }
  config.family = family->family;
  config.vocab_size = required_positive(j, "vocab_size", label);
  config.hidden_size = required_positive(j, "hidden_size", label);
  config.intermediate_size = required_positive(j, "intermediate_size", label);
  config.num_layers = required_positive(j, "num_hidden_layers", label);
  config.num_heads = required_positive(j, "num_attention_heads", label);
  config.num_kv_heads = models::json_int(j, "num_key_value_heads", config.num_heads, label);
  config.max_position_embeddings = models::json_int(j, "max_position_embeddings", 2048, label);
  config.rms_norm_eps = json_double(j, "rms_norm_eps", 1e-6, label);
  config.tie_word_embeddings = models::json_bool(j, "tie_word_embeddings", false, label);
  if (auto act = j.find("hidden_act"); act != j.end() && !act->is_null()) {
    if (!act->is_string() || act->get<std::string>() != "silu") {
      throw_invalid(label + ": field 'hidden_act' must be \"silu\" (got " + act->dump() + ")");
    }
  }
  if (auto dt = j.find("torch_dtype"); dt != j.end() && dt->is_string())
    config.torch_dtype = dt->get<std::string>();
  read_special_ids(j, label, config);
  read_rope(j, label, config);
  family->configure(j, label, config);

  if (config.num_kv_heads <= 0 || config.num_heads % config.num_kv_heads != 0) {
    throw_invalid(label + ": field 'num_key_value_heads' (" + std::to_string(config.num_kv_heads) +
                  ") must be positive and divide 'num_attention_heads' (" +
                  std::to_string(config.num_heads) + ")");
  }
  if (config.head_dim <= 0) {
    if (config.hidden_size % config.num_heads != 0) {
      throw_invalid(label + ": field 'num_attention_heads' (" + std::to_string(config.num_heads) +
                    ") must divide 'hidden_size' (" + std::to_string(config.hidden_size) + ")");
    }
    config.head_dim = config.hidden_size / config.num_heads;
  }
  if (config.head_dim % 2 != 0) {
    throw_invalid(label + ": head dimension " + std::to_string(config.head_dim) +
                  " must be even for RoPE");
  }
  if (!(config.rms_norm_eps > 0)) throw_invalid(label + ": field 'rms_norm_eps' must be positive");
  if (config.max_position_embeddings <= 0)
    throw_invalid(label + ": field 'max_position_embeddings' must be positive");
  if (config.sliding_window < 0)
    throw_invalid(label + ": field 'sliding_window' must be positive or null");
  for (int32_t id : config.eos_token_ids) {
    if (id < 0 || id >= config.vocab_size)
      throw_invalid(label + ": field 'eos_token_id' is outside the vocabulary");
  }
  if (config.bos_token_id &&
      (*config.bos_token_id < 0 || *config.bos_token_id >= config.vocab_size)) {
    throw_invalid(label + ": field 'bos_token_id' is outside the vocabulary");
  }
  return config;
}

ModelConfig load_model_config(const fs::path& dir) {
  const fs::path path = dir / "config.json";
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw_not_found(path.string() + ": no such file (not a Hugging Face model folder?)");
  json doc;
  try {
    doc = json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw_invalid(path.string() + ": not valid JSON: " + e.what());
  }
  ModelConfig config = parse_model_config(doc, path.string());
  const fs::path gen_path = dir / "generation_config.json";
  if (fs::exists(gen_path, ec)) {
    json gen;
    try {
      gen = json::parse(read_file(gen_path));
    } catch (const json::exception& e) {
      throw_invalid(gen_path.string() + ": not valid JSON: " + e.what());
    }
    if (!gen.is_object()) throw_invalid(gen_path.string() + ": not a JSON object");
    ModelConfig gen_ids;
    read_special_ids(gen, gen_path.string(), gen_ids);
    if (gen_ids.bos_token_id) config.bos_token_id = gen_ids.bos_token_id;
    if (!gen_ids.eos_token_ids.empty()) config.eos_token_ids = gen_ids.eos_token_ids;
    for (int32_t id : config.eos_token_ids) {
      if (id < 0 || id >= config.vocab_size)
        throw_invalid(gen_path.string() + ": field 'eos_token_id' is outside the vocabulary");
    }
  }
  return config;
}

std::vector<double> rope_inv_freq(const ModelConfig& config) {
  const int64_t dim = config.head_dim;
  std::vector<double> inv(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    // HF computes base ** (arange(0, dim, 2) / dim) in float32.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[i] = 1.0 / static_cast<float>(std::pow(static_cast<float>(config.rope.theta), exponent));
  }
  const RopeOptions& r = config.rope;
  if (r.type == RopeType::kLinear) {
    for (double& f : inv) f /= r.factor;
  } else if (r.type == RopeType::kLlama3) {
    const double old_len = static_cast<double>(r.original_max_position_embeddings);
    const double low_freq_wavelen = old_len / r.low_freq_factor;
    const double high_freq_wavelen = old_len / r.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2 * std::numbers::pi / f;
      if (wavelen > low_freq_wavelen) {
        f = f / r.factor;
      } else if (wavelen >= high_freq_wavelen) {
        const double smooth =
            (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
        f = (1 - smooth) * f / r.factor + smooth * f;
      }
    }
  }
  return inv;
}

std::vector<WeightSpec> expected_weights(const ModelConfig& c) {
  std::vector<WeightSpec> out;
  const int64_t q_out = c.num_heads * c.head_dim;
  const int64_t kv_out = c.num_kv_heads * c.head_dim;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back({p + "input_layernorm.weight", {c.hidden_size}});
    out.push_back({p + "self_attn.q_proj.weight", {q_out, c.hidden_size}});
    out.push_back({p + "self_attn.k_proj.weight", {kv_out, c.hidden_size}});
    out.push_back({p + "self_attn.v_proj.weight", {kv_out, c.hidden_size}});
    if (c.qkv_bias) {
      out.push_back({p + "self_attn.q_proj.bias", {q_out}});
      out.push_back({p + "self_attn.k_proj.bias", {kv_out}});
      out.push_back({p + "self_attn.v_proj.bias", {kv_out}});
    }
    if (c.qk_norm) {
      out.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
      out.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    }
    out.push_back({p + "self_attn.o_proj.weight", {c.hidden_size, q_out}});
    if (c.o_bias) out.push_back({p + "self_attn.o_proj.bias", {c.hidden_size}});
    out.push_back({p + "post_attention_layernorm.weight", {c.hidden_size}});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}});
    out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}});
    out.push_back({p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}});
  }
  out.push_back({"model.norm.weight", {c.hidden_size}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
  return out;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

// Which config.json fields determine a weight's shape, for error messages.
std::string fields_behind(const std::string& name) {
  if (name.find("embed_tokens") != std::string::npos || name == "lm_head.weight")
    return "'vocab_size', 'hidden_size'";
  if (name.find("q_proj") != std::string::npos || name.find("o_proj") != std::string::npos) {
    return "'num_attention_heads', 'head_dim', 'hidden_size'";
  }
  if (name.find("k_proj") != std::string::npos || name.find("v_proj") != std::string::npos) {
    return "'num_key_value_heads', 'head_dim', 'hidden_size'";
  }
  if (name.find("q_norm") != std::string::npos || name.find("k_norm") != std::string::npos)
    return "'head_dim'";
  if (name.find("mlp.") != std::string::npos) return "'intermediate_size', 'hidden_size'";
  return "'hidden_size'";
}

}  // namespace

void check_weights(const ModelConfig& config, const WeightSet& weights,
                   const std::string& config_label) {
  for (const WeightSpec& spec : expected_weights(config)) {
    TensorView view = weights.find(spec.name);
    if (view.info == nullptr) {
      std::string why;
      if (spec.name == "lm_head.weight")
        why = " (config says tie_word_embeddings is false)";
      else if (spec.name.find("bias") != std::string::npos)
        why = " (" + config.architecture + " has q/k/v biases)";
      else if (spec.name.find("_norm.") != std::string::npos &&
               spec.name.find("self_attn") != std::string::npos)
        why = " (" + config.architecture + " has q/k RMSNorm)";
      throw_invalid(weights.label() + ": missing tensor '" + spec.name + "' that " + config_label +
                    " implies" + why);
    }
    if (view.shape() != spec.shape) {
      throw_invalid(weights.file_of(spec.name) + ": tensor '" + spec.name + "' has shape " +
                    shape_string(view.shape()) + " but " + config_label + " (fields " +
                    fields_behind(spec.name) + ") implies " + shape_string(spec.shape));
    }
  }
}

}  // namespace assay::inference
