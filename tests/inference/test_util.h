// Helpers for the inference tests: deterministic random tiny checkpoints written with the
// safetensors writer, and an independent naive forward pass (plain loops, double precision)
// that follows the Hugging Face modeling code line by line.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "inference/safetensors.h"

namespace assay::inference::testing {

inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("assay-inference-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct Weight {
  std::vector<int64_t> shape;
  std::vector<float> values;
};
using Weights = std::map<std::string, Weight>;

// Deterministic values in [-scale, scale].
inline std::vector<float> random_values(size_t n, uint64_t& state, float scale) {
  std::vector<float> out(n);
  for (float& v : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    v = scale * (static_cast<float>((state >> 33) % 2000001) / 1000000.0f - 1.0f);
  }
  return out;
}

// Weights for a tiny model described by `config` (the test's own naming of HF tensors).
inline Weights random_weights(const nlohmann::json& c, uint64_t seed) {
  const int64_t hidden = c["hidden_size"], ffn = c["intermediate_size"], vocab = c["vocab_size"];
  const int64_t heads = c["num_attention_heads"], kv = c["num_key_value_heads"];
  const int64_t dim = c.contains("head_dim") ? c["head_dim"].get<int64_t>() : hidden / heads;
  const std::string arch = c["architectures"][0];
  const bool qkv_bias = arch == "Qwen2ForCausalLM" || c.value("attention_bias", false);
  const bool o_bias = arch != "Qwen2ForCausalLM" && c.value("attention_bias", false);
  const bool qk_norm = arch == "Qwen3ForCausalLM";
  uint64_t state = seed;
  Weights w;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale,
                 float offset = 0) {
    size_t n = 1;
    for (int64_t d : shape) n *= d;
    auto values = random_values(n, state, scale);
    for (float& v : values) v += offset;
    w[name] = Weight{shape, values};
  };
  add("model.embed_tokens.weight", {vocab, hidden}, 1.0f);
  for (int64_t l = 0; l < c["num_hidden_layers"].get<int64_t>(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {hidden}, 0.2f, 1.0f);
    add(p + "post_attention_layernorm.weight", {hidden}, 0.2f, 1.0f);
    add(p + "self_attn.q_proj.weight", {heads * dim, hidden}, 0.3f);
    add(p + "self_attn.k_proj.weight", {kv * dim, hidden}, 0.3f);
    add(p + "self_attn.v_proj.weight", {kv * dim, hidden}, 0.3f);
    add(p + "self_attn.o_proj.weight", {hidden, heads * dim}, 0.3f);
    if (qkv_bias) {
      add(p + "self_attn.q_proj.bias", {heads * dim}, 0.5f);
      add(p + "self_attn.k_proj.bias", {kv * dim}, 0.5f);
      add(p + "self_attn.v_proj.bias", {kv * dim}, 0.5f);
    }
    if (o_bias) add(p + "self_attn.o_proj.bias", {hidden}, 0.5f);
    if (qk_norm) {
      add(p + "self_attn.q_norm.weight", {dim}, 0.5f, 1.0f);
      add(p + "self_attn.k_norm.weight", {dim}, 0.5f, 1.0f);
    }
    add(p + "mlp.gate_proj.weight", {ffn, hidden}, 0.3f);
    add(p + "mlp.up_proj.weight", {ffn, hidden}, 0.3f);
    add(p + "mlp.down_proj.weight", {hidden, ffn}, 0.3f);
  }
  add("model.norm.weight", {hidden}, 0.2f, 1.0f);
  if (!c.value("tie_word_embeddings", false)) add("lm_head.weight", {vocab, hidden}, 0.5f);
  return w;
}

// Writes config.json and model.safetensors (F32, or BF16 when `bf16`) into `dir`.
inline void write_model(const std::filesystem::path& dir, const nlohmann::json& config,
                        const Weights& weights, bool bf16 = false) {
  std::filesystem::create_directories(dir);
  assay::atomic_write(dir / "config.json", config.dump(2));
  std::vector<std::vector<uint16_t>> halves;
  std::vector<TensorToWrite> tensors;
  for (const auto& [name, w] : weights) {
    if (bf16) {
      std::vector<uint16_t> h;
      for (float v : w.values) h.push_back(float_to_bf16(v));
      halves.push_back(std::move(h));
      tensors.push_back({name, DType::kBF16, w.shape, std::as_bytes(std::span(halves.back()))});
    } else {
      tensors.push_back({name, DType::kF32, w.shape, std::as_bytes(std::span(w.values))});
    }
  }
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
}

// y = W x (+ b), W row-major [out, in].
inline std::vector<double> matvec(const Weight& w, const std::vector<double>& x,
                                  const Weight* bias = nullptr) {
  const int64_t out = w.shape[0], in = w.shape[1];
  std::vector<double> y(out, 0.0);
  for (int64_t o = 0; o < out; ++o) {
    double s = bias != nullptr ? bias->values[o] : 0.0;
    for (int64_t i = 0; i < in; ++i) s += static_cast<double>(w.values[o * in + i]) * x[i];
    y[o] = s;
  }
  return y;
}

inline std::vector<double> rms_norm(const std::vector<double>& x, const Weight& w, double eps,
                                    size_t begin = 0, size_t n = 0) {
  if (n == 0) n = x.size();
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += x[begin + i] * x[begin + i];
  const double r = 1.0 / std::sqrt(ss / n + eps);
  std::vector<double> y(n);
  for (size_t i = 0; i < n; ++i) y[i] = x[begin + i] * r * w.values[i];
  return y;
}

// Naive logits [T][vocab] for `ids`, following HF's Llama/Mistral/Qwen2/Qwen3 modeling code.
// Rope: default inverse frequencies theta^(-2i/D), optionally divided by `linear_factor`.
inline std::vector<std::vector<double>> naive_logits(const nlohmann::json& c, const Weights& W,
                                                     const std::vector<int32_t>& ids,
                                                     double linear_factor = 1.0) {
  const int64_t hidden = c["hidden_size"], heads = c["num_attention_heads"],
                kv = c["num_key_value_heads"];
  const int64_t dim = c.contains("head_dim") ? c["head_dim"].get<int64_t>() : hidden / heads;
  const int64_t layers = c["num_hidden_layers"];
  const double eps = c["rms_norm_eps"], theta = c.value("rope_theta", 10000.0);
  const int64_t window = c.contains("sliding_window") && c["sliding_window"].is_number()
                             ? c["sliding_window"].get<int64_t>()
                             : 0;
  const int64_t T = ids.size();
  auto get = [&](const std::string& n) -> const Weight* {
    auto it = W.find(n);
    return it == W.end() ? nullptr : &it->second;
  };
  std::vector<std::vector<double>> x(T, std::vector<double>(hidden));
  const Weight& emb = *get("model.embed_tokens.weight");
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < hidden; ++i) x[t][i] = emb.values[ids[t] * hidden + i];
  auto rope = [&](std::vector<double>& v, int64_t head, int64_t pos) {
    for (int64_t i = 0; i < dim / 2; ++i) {
      const double inv = 1.0 / std::pow(theta, 2.0 * i / dim) / linear_factor;
      const double a = pos * inv, cs = std::cos(a), sn = std::sin(a);
      double& x1 = v[head * dim + i];
      double& x2 = v[head * dim + i + dim / 2];
      const double r1 = x1 * cs - x2 * sn, r2 = x2 * cs + x1 * sn;
      x1 = r1;
      x2 = r2;
    }
  };
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (int64_t t = 0; t < T; ++t) {
      auto h = rms_norm(x[t], *get(p + "input_layernorm.weight"), eps);
      q[t] = matvec(*get(p + "self_attn.q_proj.weight"), h, get(p + "self_attn.q_proj.bias"));
      k[t] = matvec(*get(p + "self_attn.k_proj.weight"), h, get(p + "self_attn.k_proj.bias"));
      v[t] = matvec(*get(p + "self_attn.v_proj.weight"), h, get(p + "self_attn.v_proj.bias"));
      if (const Weight* qn = get(p + "self_attn.q_norm.weight")) {
        for (int64_t hd = 0; hd < heads; ++hd) {
          auto n = rms_norm(q[t], *qn, eps, hd * dim, dim);
          std::copy(n.begin(), n.end(), q[t].begin() + hd * dim);
        }
        for (int64_t hd = 0; hd < kv; ++hd) {
          auto n = rms_norm(k[t], *get(p + "self_attn.k_norm.weight"), eps, hd * dim, dim);
          std::copy(n.begin(), n.end(), k[t].begin() + hd * dim);
        }
      }
      for (int64_t hd = 0; hd < heads; ++hd) rope(q[t], hd, t);
      for (int64_t hd = 0; hd < kv; ++hd) rope(k[t], hd, t);
    }
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> attn(heads * dim, 0.0);
      for (int64_t hd = 0; hd < heads; ++hd) {
        const int64_t g = hd / (heads / kv);
        std::vector<double> scores;
        std::vector<int64_t> keys;
        for (int64_t j = 0; j <= t; ++j) {
          if (window > 0 && t - j >= window) continue;
          double s = 0;
          for (int64_t d = 0; d < dim; ++d) s += q[t][hd * dim + d] * k[j][g * dim + d];
          scores.push_back(s / std::sqrt(static_cast<double>(dim)));
          keys.push_back(j);
        }
        double mx = *std::max_element(scores.begin(), scores.end()), sum = 0;
        for (double& s : scores) sum += (s = std::exp(s - mx));
        for (size_t n = 0; n < keys.size(); ++n)
          for (int64_t d = 0; d < dim; ++d)
            attn[hd * dim + d] += scores[n] / sum * v[keys[n]][g * dim + d];
      }
      auto o = matvec(*get(p + "self_attn.o_proj.weight"), attn, get(p + "self_attn.o_proj.bias"));
      for (int64_t i = 0; i < hidden; ++i) x[t][i] += o[i];
      auto h = rms_norm(x[t], *get(p + "post_attention_layernorm.weight"), eps);
      auto gate = matvec(*get(p + "mlp.gate_proj.weight"), h);
      auto up = matvec(*get(p + "mlp.up_proj.weight"), h);
      for (size_t i = 0; i < gate.size(); ++i)
        gate[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
      auto down = matvec(*get(p + "mlp.down_proj.weight"), gate);
      for (int64_t i = 0; i < hidden; ++i) x[t][i] += down[i];
    }
  }
  const Weight* head = get("lm_head.weight");
  if (head == nullptr) head = get("model.embed_tokens.weight");
  std::vector<std::vector<double>> out;
  for (int64_t t = 0; t < T; ++t)
    out.push_back(matvec(*head, rms_norm(x[t], *get("model.norm.weight"), eps)));
  return out;
}

}  // namespace assay::inference::testing
