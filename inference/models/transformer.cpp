#include "inference/models/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include <ATen/Parallel.h>

#include "core/error.h"

namespace assay::inference::models {

namespace {

at::ScalarType scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return at::kFloat;
    case DType::kF16:
      return at::kHalf;
    case DType::kBF16:
      return at::kBFloat16;
  }
  return at::kFloat;
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// Decode attention (one query per row) straight over the KV cache rows: per (row, KV head), the
// scores of its own keys 0 .. len-1 only (no padding, no mask tensor, no copy of the cache),
// softmax and the weighted sum of values, in float. ATen's batched matmul runs one tiny GEMM per
// (row, head) here and costs ~10x more (stories: 7-10 ms per call at batch 32 on this machine).
template <typename KvT>
float kv_to_float(KvT x) {
  if constexpr (std::is_same_v<KvT, float>) {
    return x;
  } else {
    const uint32_t bits = static_cast<uint32_t>(x.x) << 16;  // bfloat16 = high half of a float
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
}

struct DecodeAttention {
  const float* q;  // [B, H, D]
  float* out;      // [B, H, D]
  const void* k;   // cache rows of slot first_slot: [B, KV, C, D] with the cache's strides
  const void* v;
  const int64_t* len;  // [B] keys per row (position of the query + 1)
  int64_t heads, kv_heads, dim, capacity, window;
  float scale;
};

template <typename KvT>
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("arch=haswell", "default")))
#endif
void decode_attention_rows(const DecodeAttention& a, int64_t begin, int64_t end,
                           std::vector<float>& scores, std::vector<float>& acc) {
  const int64_t groups = a.heads / a.kv_heads, dim = a.dim;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t b = item / a.kv_heads, kvh = item % a.kv_heads;
    const int64_t len = a.len[b];
    const int64_t lo = a.window > 0 ? std::max<int64_t>(0, len - a.window) : 0;
    const size_t head_offset = static_cast<size_t>((b * a.kv_heads + kvh) * a.capacity * dim);
    const KvT* keys = static_cast<const KvT*>(a.k) + head_offset;
    const KvT* values = static_cast<const KvT*>(a.v) + head_offset;
    scores.resize(len);
    acc.resize(dim);
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t h = kvh * groups + g;
      const float* q = a.q + (b * a.heads + h) * dim;
      float max = -std::numeric_limits<float>::infinity();
      for (int64_t j = lo; j < len; ++j) {
        const KvT* key = keys + j * dim;
        float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t d = 0;
        for (; d + 8 <= dim; d += 8)
          for (int u = 0; u < 8; ++u) part[u] += q[d + u] * kv_to_float(key[d + u]);
        float s = 0;
        for (; d < dim; ++d) s += q[d] * kv_to_float(key[d]);
        s += ((part[0] + part[1]) + (part[2] + part[3])) +
             ((part[4] + part[5]) + (part[6] + part[7]));
        scores[j] = s * a.scale;
        max = std::max(max, scores[j]);
      }
      float sum = 0;
      for (int64_t j = lo; j < len; ++j) sum += (scores[j] = std::exp(scores[j] - max));
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t j = lo; j < len; ++j) {
        const KvT* value = values + j * dim;
        const float p = scores[j];
        for (int64_t e = 0; e < dim; ++e) acc[e] += p * kv_to_float(value[e]);
      }
      float* o = a.out + (b * a.heads + h) * dim;
      const float inv = 1.0f / sum;
      for (int64_t e = 0; e < dim; ++e) o[e] = acc[e] * inv;
    }
  }
}

template <typename KvT>
void decode_attention(const DecodeAttention& a, int64_t batch) {
  const int64_t items = batch * a.kv_heads;
  at::parallel_for(0, items, std::max<int64_t>(1, items / (2 * at::get_num_threads())),
                   [&](int64_t begin, int64_t end) {
                     std::vector<float> scores, acc;
                     decode_attention_rows<KvT>(a, begin, end, scores, acc);
                   });
}

}  // namespace

at::Tensor tensor_from_view(const TensorView& view) {
  return at::from_blob(const_cast<std::byte*>(view.bytes.data()), view.shape(),
                       at::TensorOptions().dtype(scalar_type(view.dtype())));
}

Transformer::Transformer(const ModelConfig& config, const WeightSet& weights,
                         const LoraAdapter* lora, const TransformerOptions& options)
    : config_(config), options_(options) {
  const auto target = at::TensorOptions().dtype(options.dtype).device(options.device);
  // Float32 copy of a weight with the LoRA delta merged in.
  auto load_f32 = [&](const std::string& name) {
    at::Tensor w =
        tensor_from_view(weights.get(name)).to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
    if (lora != nullptr) {
      auto it = lora->pairs.find(name);
      if (it != lora->pairs.end()) {
        at::Tensor a = tensor_from_view(it->second.a).to(at::kFloat);
        at::Tensor b = tensor_from_view(it->second.b).to(at::kFloat);
        w.add_(at::matmul(b, a), lora->scale());
      }
    }
    return w;
  };
  auto load = [&](const std::string& name) { return load_f32(name).to(target); };
  auto load_opt = [&](const std::string& name, bool present) {
    return present ? load(name) : at::Tensor();
  };

  const bool dims_ok = config.hidden_size % 2 == 0 && config.intermediate_size % 2 == 0 &&
                       config.head_dim % 2 == 0 && config.num_heads * config.head_dim % 2 == 0;
  fast_ = options.device.is_cpu() && dims_ok && std::getenv("ASSAY_NO_KERNELS") == nullptr &&
          ((options.dtype == at::kFloat && kernels::has_f32_kernels()) ||
           (options.dtype == at::kBFloat16 && kernels::has_bf16_kernels()));
  ktype_ = options.dtype == at::kBFloat16 ? kernels::Type::kBF16 : kernels::Type::kF32;
  // Packs a float32 [n, k] weight for kernels::linear.
  auto pack = [&](const at::Tensor& w) {
    const at::Tensor c = w.contiguous();
    return kernels::pack_weight(c.data_ptr<float>(), c.size(0), c.size(1), ktype_);
  };
  auto bias = [&](const at::Tensor& b) {
    const at::Tensor c = b.contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };

  embed_ = load("model.embed_tokens.weight");
  if (fast_) {
    lm_head_packed_ = pack(config.tie_word_embeddings ? load_f32("model.embed_tokens.weight")
                                                      : load_f32("lm_head.weight"));
  } else {
    lm_head_ = config.tie_word_embeddings ? embed_ : load("lm_head.weight");
  }
  final_norm_ = load("model.norm.weight");
  std::vector<double> inv = rope_inv_freq(config);
  std::vector<float> inv_f(inv.begin(), inv.end());
  inv_freq_ = at::tensor(inv_f, at::TensorOptions().dtype(at::kFloat)).to(options.device);

  layers_.reserve(config.num_layers);
  for (int64_t l = 0; l < config.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Layer layer;
    layer.input_norm = load(p + "input_layernorm.weight");
    layer.post_norm = load(p + "post_attention_layernorm.weight");
    layer.q_norm = load_opt(p + "self_attn.q_norm.weight", config.qk_norm);
    layer.k_norm = load_opt(p + "self_attn.k_norm.weight", config.qk_norm);
    const at::Tensor qkv_w =
        at::cat({load_f32(p + "self_attn.q_proj.weight"), load_f32(p + "self_attn.k_proj.weight"),
                 load_f32(p + "self_attn.v_proj.weight")});
    at::Tensor qkv_b;
    if (config.qkv_bias) {
      qkv_b = at::cat({load_f32(p + "self_attn.q_proj.bias"), load_f32(p + "self_attn.k_proj.bias"),
                       load_f32(p + "self_attn.v_proj.bias")});
    }
    const at::Tensor gate_up_w =
        at::cat({load_f32(p + "mlp.gate_proj.weight"), load_f32(p + "mlp.up_proj.weight")});
    if (fast_) {
      PackedLayer pl;
      pl.qkv = pack(qkv_w);
      if (qkv_b.defined()) pl.qkv_b = bias(qkv_b);
      pl.o = pack(load_f32(p + "self_attn.o_proj.weight"));
      if (config.o_bias) pl.o_b = bias(load_f32(p + "self_attn.o_proj.bias"));
      pl.gate_up = pack(gate_up_w);
      pl.down = pack(load_f32(p + "mlp.down_proj.weight"));
      packed_.push_back(std::move(pl));
    } else {
      layer.qkv_w = qkv_w.to(target);
      if (qkv_b.defined()) layer.qkv_b = qkv_b.to(target);
      layer.o_w = load(p + "self_attn.o_proj.weight");
      layer.o_b = load_opt(p + "self_attn.o_proj.bias", config.o_bias);
      layer.gate_up_w = gate_up_w.to(target);
      layer.down_w = load(p + "mlp.down_proj.weight");
    }
    layers_.push_back(std::move(layer));
  }
}

KvCache Transformer::make_cache(int64_t batch, int64_t capacity) const {
  KvCache cache;
  cache.capacity = capacity;
  const auto opts = at::TensorOptions().dtype(options_.dtype).device(options_.device);
  const std::vector<int64_t> shape = {batch, config_.num_kv_heads, capacity, config_.head_dim};
  auto zeros = [&] {
    if (!fast_) return at::zeros(shape, opts);
    // Read every decode step: on huge pages where the kernel allows (kernels::alloc_zeroed).
    const size_t bytes =
        static_cast<size_t>(batch * config_.num_kv_heads * capacity * config_.head_dim) *
        at::elementSize(options_.dtype);
    kernels::Buffer buffer = kernels::alloc_zeroed(bytes);
    const kernels::BufferFree free_buffer = buffer.get_deleter();
    return at::from_blob(
        buffer.release(), shape,
        [free_buffer](void* p) { free_buffer(static_cast<std::byte*>(p)); }, opts);
  };
  for (int64_t l = 0; l < config_.num_layers; ++l) {
    cache.k.push_back(zeros());
    cache.v.push_back(zeros());
  }
  return cache;
}

at::Tensor Transformer::rms_norm(const at::Tensor& x, const at::Tensor& weight) const {
  at::Tensor h = x.to(at::kFloat);
  h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + config_.rms_norm_eps);
  return weight * h.to(x.scalar_type());
}

at::Tensor Transformer::forward(const at::Tensor& tokens_in, KvCache& cache, bool last_only) {
  const int64_t batch = tokens_in.size(0);
  const int64_t steps = tokens_in.size(1);
  const int64_t start = cache.length;
  if (steps <= 0) throw_invalid("forward: no tokens to run");
  if (start + steps > cache.capacity) {
    throw_invalid("forward: " + std::to_string(start + steps) +
                  " positions exceed the cache capacity " + std::to_string(cache.capacity));
  }
  const int64_t min_id = tokens_in.min().item<int64_t>();
  const int64_t max_id = tokens_in.max().item<int64_t>();
  if (min_id < 0 || max_id >= config_.vocab_size) {
    throw_invalid("token id " + std::to_string(min_id < 0 ? min_id : max_id) +
                  " is outside the vocabulary (size " + std::to_string(config_.vocab_size) + ")");
  }
  const int64_t heads = config_.num_heads, kv_heads = config_.num_kv_heads, dim = config_.head_dim;
  const int64_t groups = heads / kv_heads;
  const int64_t total = start + steps;
  if (fast_) {  // the same kernels as the batched path: one row's result never depends on batch
    SlotBatch sb;
    for (int64_t b = 0; b < batch; ++b) {
      sb.start.push_back(start);
      sb.count.push_back(steps);
      for (int64_t t = last_only ? steps - 1 : 0; t < steps; ++t)
        sb.logit_rows.push_back(b * steps + t);
    }
    at::Tensor logits = forward_slots(tokens_in, cache, sb);
    cache.length = total;
    return logits.view({batch, last_only ? 1 : steps, config_.vocab_size});
  }
  const at::Tensor tokens = tokens_in.to(options_.device, at::kLong);

  at::Tensor x =
      embed_.index_select(0, tokens.reshape({-1})).view({batch, steps, config_.hidden_size});

  // RoPE tables for these positions, in float32 as Hugging Face computes them.
  at::Tensor positions =
      at::arange(start, total, at::TensorOptions().dtype(at::kFloat).device(options_.device));
  at::Tensor freqs = positions.unsqueeze(1) * inv_freq_.unsqueeze(0);
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  const at::Tensor cos = emb.cos().to(options_.dtype);  // [T, D]
  const at::Tensor sin = emb.sin().to(options_.dtype);

  // Additive mask [T, total]: query t (position start + t) sees keys j <= start + t, and with a
  // sliding window only keys with (start + t) - j < window.
  at::Tensor mask;
  const bool windowed = config_.sliding_window > 0 && total > config_.sliding_window;
  if (steps > 1 || windowed) {
    at::Tensor q_pos =
        at::arange(start, total, at::TensorOptions().dtype(at::kLong).device(options_.device))
            .unsqueeze(1);
    at::Tensor k_pos =
        at::arange(0, total, at::TensorOptions().dtype(at::kLong).device(options_.device))
            .unsqueeze(0);
    at::Tensor blocked = k_pos > q_pos;
    if (windowed) blocked = blocked.logical_or(q_pos - k_pos >= config_.sliding_window);
    mask = at::zeros({steps, total}, at::TensorOptions().dtype(at::kFloat).device(options_.device))
               .masked_fill(blocked, -std::numeric_limits<float>::infinity());
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));

  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    at::Tensor h = rms_norm(x, layer.input_norm);
    at::Tensor qkv = at::linear(h, layer.qkv_w, layer.qkv_b);
    at::Tensor q = qkv.narrow(-1, 0, heads * dim).view({batch, steps, heads, dim});
    at::Tensor k = qkv.narrow(-1, heads * dim, kv_heads * dim).view({batch, steps, kv_heads, dim});
    at::Tensor v = qkv.narrow(-1, (heads + kv_heads) * dim, kv_heads * dim)
                       .view({batch, steps, kv_heads, dim});
    if (config_.qk_norm) {
      q = rms_norm(q, layer.q_norm);
      k = rms_norm(k, layer.k_norm);
    }
    q = q.transpose(1, 2);  // [B, H, T, D]
    k = k.transpose(1, 2);  // [B, KV, T, D]
    v = v.transpose(1, 2);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    cache.k[l].narrow(2, start, steps).copy_(k);
    cache.v[l].narrow(2, start, steps).copy_(v);
    const at::Tensor keys = cache.k[l].narrow(2, 0, total);  // [B, KV, L, D]
    const at::Tensor values = cache.v[l].narrow(2, 0, total);
    // Grouped-query attention without repeating K/V: query heads h*G .. h*G+G-1 share KV head h.
    at::Tensor qg = q.reshape({batch, kv_heads, groups * steps, dim});
    at::Tensor scores = at::matmul(qg, keys.transpose(-1, -2)).mul_(scale);  // [B, KV, G*T, L]
    scores = scores.to(at::kFloat);
    if (mask.defined()) {
      scores = (scores.view({batch, kv_heads, groups, steps, total}) + mask)
                   .view({batch, kv_heads, groups * steps, total});
    }
    at::Tensor probs = at::softmax(scores, -1).to(options_.dtype);
    at::Tensor attn = at::matmul(probs, values)  // [B, KV, G*T, D]
                          .view({batch, heads, steps, dim})
                          .transpose(1, 2)
                          .reshape({batch, steps, heads * dim});
    x = x + at::linear(attn, layer.o_w, layer.o_b);
    h = rms_norm(x, layer.post_norm);
    at::Tensor gate_up = at::linear(h, layer.gate_up_w);
    const int64_t ffn = config_.intermediate_size;
    at::Tensor act = at::silu(gate_up.narrow(-1, 0, ffn)) * gate_up.narrow(-1, ffn, ffn);
    x = x + at::linear(act, layer.down_w);
  }
  cache.length = total;
  if (last_only) x = x.narrow(1, steps - 1, 1);
  x = rms_norm(x, final_norm_);
  return at::linear(x, lm_head_).to(at::kFloat);
}

}  // namespace assay::inference::models

namespace assay::inference::models {

int64_t Transformer::check_slots(const at::Tensor& tokens_in, const KvCache& cache,
                                 const SlotBatch& sb, bool* padded) const {
  const int64_t batch = tokens_in.size(0);
  const int64_t steps = tokens_in.size(1);
  if (batch <= 0 || steps <= 0) throw_invalid("forward_slots: no tokens to run");
  ASSAY_CHECK(static_cast<int64_t>(sb.start.size()) == batch &&
              static_cast<int64_t>(sb.count.size()) == batch);
  ASSAY_CHECK(sb.first_slot >= 0 && sb.first_slot + batch <= cache.k.front().size(0));
  int64_t keys_len = 0;  // keys any real query can see: max over rows of start + count
  *padded = false;
  for (int64_t b = 0; b < batch; ++b) {
    ASSAY_CHECK(sb.count[b] >= 1 && sb.count[b] <= steps && sb.start[b] >= 0);
    if (sb.start[b] + sb.count[b] > cache.capacity) {
      throw_invalid("forward: " + std::to_string(sb.start[b] + sb.count[b]) +
                    " positions exceed the cache capacity " + std::to_string(cache.capacity));
    }
    keys_len = std::max(keys_len, sb.start[b] + sb.count[b]);
    *padded = *padded || sb.count[b] != steps;
  }
  const at::Tensor flat = tokens_in.to(at::kCPU, at::kLong).contiguous();
  const int64_t* ids = flat.data_ptr<int64_t>();
  for (int64_t i = 0; i < flat.numel(); ++i) {
    if (ids[i] < 0 || ids[i] >= config_.vocab_size) {
      throw_invalid("token id " + std::to_string(ids[i]) + " is outside the vocabulary (size " +
                    std::to_string(config_.vocab_size) + ")");
    }
  }
  return keys_len;
}

at::Tensor Transformer::forward_slots(const at::Tensor& tokens_in, KvCache& cache,
                                      const SlotBatch& sb) {
  bool padded = false;
  const int64_t keys_len = check_slots(tokens_in, cache, sb, &padded);
  if (fast_) return forward_slots_fast(tokens_in, cache, sb);
  const int64_t batch = tokens_in.size(0);
  const int64_t steps = tokens_in.size(1);
  const int64_t heads = config_.num_heads, kv_heads = config_.num_kv_heads, dim = config_.head_dim;
  const int64_t groups = heads / kv_heads;
  const auto dev = options_.device;
  const auto long_opts = at::TensorOptions().dtype(at::kLong);
  const at::Tensor tokens = tokens_in.to(dev, at::kLong);

  // Per-row positions, the rows/positions of the real tokens (where their K/V go) and the
  // additive mask [B, 1, 1, T, L]: query t of row b sees keys j <= start[b] + t (and, with a
  // sliding window, only j > start[b] + t - window).
  std::vector<int64_t> pos(batch * steps), src, dst_slot, dst_pos;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < steps; ++t) {
      pos[b * steps + t] = sb.start[b] + t;
      if (t < sb.count[b]) {
        src.push_back(b * steps + t);
        dst_slot.push_back(sb.first_slot + b);
        dst_pos.push_back(sb.start[b] + t);
      }
    }
  }
  const at::Tensor q_pos = at::tensor(pos, long_opts).to(dev).view({batch, steps, 1});
  const at::Tensor src_idx = at::tensor(src, long_opts).to(dev);
  const at::Tensor slot_idx = at::tensor(dst_slot, long_opts).to(dev);
  const at::Tensor pos_idx = at::tensor(dst_pos, long_opts).to(dev);
  at::Tensor mask;  // prefill only: decode steps use decode_attention
  if (steps > 1) {
    const at::Tensor k_pos = at::arange(0, keys_len, long_opts.device(dev)).view({1, 1, keys_len});
    at::Tensor blocked = k_pos > q_pos;  // [B, T, L]
    if (config_.sliding_window > 0)
      blocked = blocked.logical_or(q_pos - k_pos >= config_.sliding_window);
    mask = at::zeros({batch, steps, keys_len}, at::TensorOptions().dtype(at::kFloat).device(dev))
               .masked_fill_(blocked, -std::numeric_limits<float>::infinity())
               .view({batch, 1, 1, steps, keys_len});
  }

  at::Tensor freqs = q_pos.to(at::kFloat) * inv_freq_.view({1, 1, -1});  // [B, T, D/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(1);             // [B, 1, T, D]
  const at::Tensor cos = emb.cos().to(options_.dtype);
  const at::Tensor sin = emb.sin().to(options_.dtype);
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  std::vector<int64_t> row_len(batch);  // decode: keys each row's query sees
  for (int64_t b = 0; b < batch; ++b) row_len[b] = sb.start[b] + 1;

  at::Tensor x =
      embed_.index_select(0, tokens.reshape({-1})).view({batch, steps, config_.hidden_size});
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    at::Tensor h = rms_norm(x, layer.input_norm);
    at::Tensor qkv = at::linear(h, layer.qkv_w, layer.qkv_b);
    at::Tensor q = qkv.narrow(-1, 0, heads * dim).view({batch, steps, heads, dim});
    at::Tensor k = qkv.narrow(-1, heads * dim, kv_heads * dim).view({batch, steps, kv_heads, dim});
    at::Tensor v = qkv.narrow(-1, (heads + kv_heads) * dim, kv_heads * dim)
                       .view({batch, steps, kv_heads, dim});
    if (config_.qk_norm) {
      q = rms_norm(q, layer.q_norm);
      k = rms_norm(k, layer.k_norm);
    }
    q = q.transpose(1, 2);  // [B, H, T, D]
    k = k.transpose(1, 2);  // [B, KV, T, D]
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    // Store the real tokens' K/V: cache viewed as [S, C, KV, D], indexed by (slot, position).
    at::Tensor k_tok = k.transpose(1, 2).reshape({batch * steps, kv_heads, dim});
    at::Tensor v_tok = v.reshape({batch * steps, kv_heads, dim});
    if (padded) {
      k_tok = k_tok.index_select(0, src_idx);
      v_tok = v_tok.index_select(0, src_idx);
    }
    cache.k[l].permute({0, 2, 1, 3}).index_put_({slot_idx, pos_idx}, k_tok);
    cache.v[l].permute({0, 2, 1, 3}).index_put_({slot_idx, pos_idx}, v_tok);
    if (steps == 1) {
      const at::Tensor qf = q.to(at::kFloat).contiguous();  // [B, H, 1, D]
      at::Tensor out = at::empty({batch, 1, heads * dim}, qf.options());
      DecodeAttention a{qf.data_ptr<float>(),
                        out.data_ptr<float>(),
                        nullptr,
                        nullptr,
                        row_len.data(),
                        heads,
                        kv_heads,
                        dim,
                        cache.capacity,
                        config_.sliding_window,
                        static_cast<float>(scale)};
      const at::Tensor k_rows = cache.k[l].narrow(0, sb.first_slot, batch);
      const at::Tensor v_rows = cache.v[l].narrow(0, sb.first_slot, batch);
      a.k = k_rows.data_ptr();
      a.v = v_rows.data_ptr();
      if (options_.dtype == at::kBFloat16) {
        decode_attention<c10::BFloat16>(a, batch);
      } else {
        decode_attention<float>(a, batch);
      }
      x = x + at::linear(out.to(options_.dtype), layer.o_w, layer.o_b);
    } else {
      const at::Tensor keys = cache.k[l].narrow(0, sb.first_slot, batch).narrow(2, 0, keys_len);
      const at::Tensor values = cache.v[l].narrow(0, sb.first_slot, batch).narrow(2, 0, keys_len);
      at::Tensor qg = q.reshape({batch, kv_heads, groups * steps, dim});
      at::Tensor scores = at::matmul(qg, keys.transpose(-1, -2)).mul_(scale);  // [B, KV, G*T, L]
      scores = (scores.to(at::kFloat).view({batch, kv_heads, groups, steps, keys_len}) + mask)
                   .view({batch, kv_heads, groups * steps, keys_len});
      at::Tensor probs = at::softmax(scores, -1).to(options_.dtype);
      at::Tensor attn = at::matmul(probs, values)
                            .view({batch, heads, steps, dim})
                            .transpose(1, 2)
                            .reshape({batch, steps, heads * dim});
      x = x + at::linear(attn, layer.o_w, layer.o_b);
    }
    h = rms_norm(x, layer.post_norm);
    at::Tensor gate_up = at::linear(h, layer.gate_up_w);
    const int64_t ffn = config_.intermediate_size;
    at::Tensor act = at::silu(gate_up.narrow(-1, 0, ffn)) * gate_up.narrow(-1, ffn, ffn);
    x = x + at::linear(act, layer.down_w);
  }
  const at::Tensor rows = at::tensor(sb.logit_rows, long_opts).to(dev);
  x = x.view({batch * steps, config_.hidden_size}).index_select(0, rows);
  x = rms_norm(x, final_norm_);
  return at::linear(x, lm_head_).to(at::kFloat);
}

}  // namespace assay::inference::models

namespace assay::inference::models {

constexpr int64_t kRowChunk = 256;  // rows per pass of a layer in forward_slots_fast

at::Tensor Transformer::forward_slots_fast(const at::Tensor& tokens_in, KvCache& cache,
                                           const SlotBatch& sb) {
  const int64_t batch = tokens_in.size(0), steps = tokens_in.size(1), rows = batch * steps;
  const int64_t heads = config_.num_heads, kv_heads = config_.num_kv_heads, dim = config_.head_dim;
  const int64_t hidden = config_.hidden_size;
  const int64_t ffn = config_.intermediate_size, qkv_width = (heads + 2 * kv_heads) * dim;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const kernels::Type kt = ktype_;
  const auto opts = at::TensorOptions().dtype(options_.dtype);
  const auto long_opts = at::TensorOptions().dtype(at::kLong);

  // Per row (b, t): position, cache slot, whether it is a real token; RoPE tables.
  std::vector<int64_t> pos(rows), slot(rows);
  std::unique_ptr<bool[]> store(new bool[rows]);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < steps; ++t) {
      pos[b * steps + t] = sb.start[b] + t;
      slot[b * steps + t] = sb.first_slot + b;
      store[b * steps + t] = t < sb.count[b];
    }
  }
  const int64_t half = dim / 2;
  std::vector<float> cos_tab(rows * half), sin_tab(rows * half);
  kernels::rope_tables(pos.data(), rows, inv_freq_.data_ptr<float>(), half, cos_tab.data(),
                       sin_tab.data());

  // Attention: keys each query row sees (padding rows: one, their outputs are never used).
  std::vector<int64_t> row_len(rows), row_slot(rows);
  for (int64_t r = 0; r < rows; ++r) {
    row_len[r] = store[r] ? pos[r] + 1 : 1;
    row_slot[r] = r / steps;
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));

  const at::Tensor tokens = tokens_in.to(at::kLong).reshape({-1});
  at::Tensor x = embed_.index_select(0, tokens);  // [rows, hidden], the residual stream
  // Each layer runs over chunks of rows in order: a chunk's keys/values are stored before its
  // queries attend, and a row (b, t) only sees rows (b, <= t), so chunks never wait on later ones.
  // Chunk-sized buffers stay in cache and below malloc's mmap threshold (no page faults).
  const int64_t chunk = std::min<int64_t>(rows, kRowChunk);
  at::Tensor h = at::empty({chunk, hidden}, opts);
  at::Tensor qkv = at::empty({chunk, qkv_width}, opts);
  at::Tensor q = at::empty({chunk, heads * dim}, opts.dtype(at::kFloat));
  at::Tensor attn = at::empty({chunk, heads * dim}, opts);
  at::Tensor gate_up = at::empty({chunk, 2 * ffn}, opts);
  at::Tensor act = at::empty({chunk, ffn}, opts);
  const int64_t capacity = cache.capacity;
  const size_t es = kt == kernels::Type::kF32 ? 4 : 2;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    const PackedLayer& pl = packed_[l];
    for (int64_t c0 = 0; c0 < rows; c0 += chunk) {
      const int64_t n = std::min(chunk, rows - c0);
      std::byte* xc = static_cast<std::byte*>(x.data_ptr()) + c0 * hidden * es;
      kernels::rms_norm(xc, hidden, h.data_ptr(), hidden, n, hidden, layer.input_norm.data_ptr(),
                        eps, kt);
      kernels::linear(pl.qkv, h.data_ptr(), n, hidden, qkv.data_ptr(), qkv_width, kt,
                      pl.qkv_b.empty() ? nullptr : pl.qkv_b.data(), false);
      if (config_.qk_norm) {  // per head, before RoPE (Qwen3)
        auto* base = static_cast<std::byte*>(qkv.data_ptr());
        for (int64_t r = 0; r < n; ++r) {
          std::byte* row = base + r * qkv_width * es;
          kernels::rms_norm(row, dim, row, dim, heads, dim, layer.q_norm.data_ptr(), eps, kt);
          kernels::rms_norm(row + heads * dim * es, dim, row + heads * dim * es, dim, kv_heads, dim,
                            layer.k_norm.data_ptr(), eps, kt);
        }
      }
      const kernels::RopeStore rs{qkv.data_ptr(),
                                  qkv_width,
                                  pos.data() + c0,
                                  slot.data() + c0,
                                  store.get() + c0,
                                  cos_tab.data() + c0 * half,
                                  sin_tab.data() + c0 * half,
                                  q.data_ptr<float>(),
                                  cache.k[l].data_ptr(),
                                  cache.v[l].data_ptr(),
                                  kv_heads * capacity * dim,
                                  capacity * dim,
                                  heads,
                                  kv_heads,
                                  dim,
                                  kt};
      // A decode step (one row per slot) does RoPE and the cache store inside the attention.
      if (steps != 1) kernels::rope_store(rs, n);
      // Every query row over its own slot's keys 0 .. pos (causal, no padding, no mask).
      const kernels::Attention a{q.data_ptr<float>(),
                                 attn.data_ptr(),
                                 cache.k[l].narrow(0, sb.first_slot, batch).data_ptr(),
                                 cache.v[l].narrow(0, sb.first_slot, batch).data_ptr(),
                                 row_slot.data() + c0,
                                 row_len.data() + c0,
                                 heads,
                                 kv_heads,
                                 dim,
                                 capacity,
                                 config_.sliding_window,
                                 static_cast<float>(scale),
                                 kt};
      kernels::attention(a, n, steps == 1 ? &rs : nullptr);
      kernels::linear(pl.o, attn.data_ptr(), n, heads * dim, xc, hidden, kt,
                      pl.o_b.empty() ? nullptr : pl.o_b.data(), true);
      kernels::rms_norm(xc, hidden, h.data_ptr(), hidden, n, hidden, layer.post_norm.data_ptr(),
                        eps, kt);
      kernels::linear(pl.gate_up, h.data_ptr(), n, hidden, gate_up.data_ptr(), 2 * ffn, kt, nullptr,
                      false);
      kernels::silu_mul(gate_up.data_ptr(), 2 * ffn, act.data_ptr(), ffn, n, ffn, kt);
      kernels::linear(pl.down, act.data_ptr(), n, ffn, xc, hidden, kt, nullptr, true);
    }
  }
  const int64_t n_out = static_cast<int64_t>(sb.logit_rows.size());
  if (n_out != rows) x = x.index_select(0, at::tensor(sb.logit_rows, long_opts));
  at::Tensor hf = at::empty({n_out, hidden}, opts);
  kernels::rms_norm(x.data_ptr(), hidden, hf.data_ptr(), hidden, n_out, hidden,
                    final_norm_.data_ptr(), eps, kt);
  at::Tensor logits = at::empty({n_out, config_.vocab_size}, opts.dtype(at::kFloat));
  kernels::linear(lm_head_packed_, hf.data_ptr(), n_out, hidden, logits.data_ptr(),
                  config_.vocab_size, kernels::Type::kF32, nullptr, false);
  return logits;
}

}  // namespace assay::inference::models
