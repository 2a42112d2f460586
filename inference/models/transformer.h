// The decoder-only transformer shared by Llama, Mistral, Qwen2 and Qwen3 (the family differences
// are flags in ModelConfig): embeddings, RMSNorm, RoPE, grouped-query attention, SwiGLU MLP and
// logits, in libtorch. INTERNAL to inference/: it exposes torch types, so eval never includes it
// (eval uses inference/engine.h).
#pragma once

#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "inference/lora.h"
#include "inference/model_config.h"
#include "inference/kernels/kernels.h"
#include "inference/safetensors.h"

namespace assay::inference::models {

// Per-layer key/value tensors [batch, kv_heads, capacity, head_dim], preallocated. All sequences
// of a batch share one length here (one sequence per cache in practice); continuous batching
// replaces this with per-slot lengths.
struct KvCache {
  std::vector<at::Tensor> k;
  std::vector<at::Tensor> v;
  int64_t length = 0;    // positions already filled
  int64_t capacity = 0;  // positions allocated
};

// One call of Transformer::forward_slots: row b of the tokens runs in cache slot first_slot + b,
// at positions start[b] .. start[b] + count[b] - 1; tokens after count[b] in a row are padding
// (their keys/values are not stored, their outputs unused). Each row has its own length, so
// sequences of different lengths share one batched step (continuous batching).
struct SlotBatch {
  int64_t first_slot = 0;           // cache slot of row 0; rows use consecutive slots
  std::vector<int64_t> start;       // per row: positions already in that slot's cache
  std::vector<int64_t> count;       // per row: real tokens in this call (1..T)
  std::vector<int64_t> logit_rows;  // flat indices b * T + t whose logits are returned, in order
};

struct TransformerOptions {
  at::ScalarType dtype = at::kFloat;  // compute/storage dtype of weights: kFloat or kBFloat16
  at::Device device = at::kCPU;       // where weights and activations live
};

class Transformer {
 public:
  // Converts `weights` (already checked against `config`) to tensors on the target device and
  // dtype, merging `lora` (may be null) in float32 first: W += scale * B @ A. Q/K/V and gate/up
  // are fused into one matrix each. Throws assay::Error (invalid input) on a LoRA that does not
  // fit the weights.
  Transformer(const ModelConfig& config, const WeightSet& weights, const LoraAdapter* lora,
              const TransformerOptions& options);

  // An empty cache for `batch` sequences of up to `capacity` positions.
  KvCache make_cache(int64_t batch, int64_t capacity) const;

  // Runs tokens [B, T] (int64) at positions cache.length .. cache.length + T - 1, appends their
  // keys/values to `cache` and returns float32 logits: [B, T, vocab], or [B, 1, vocab] for the
  // last position only when `last_only`. Throws assay::Error (invalid input) when the cache
  // would overflow or a token id is outside the vocabulary.
  at::Tensor forward(const at::Tensor& tokens, KvCache& cache, bool last_only);

  // Runs tokens [B, T] (int64) as described by `batch` against a cache made by make_cache(S, C)
  // (S >= first_slot + B), storing the real tokens' keys/values; slot lengths are the caller's
  // business. Returns float32 logits [logit_rows.size(), vocab]. Throws assay::Error (invalid
  // input) when a row would overflow the capacity or a token id is outside the vocabulary.
  at::Tensor forward_slots(const at::Tensor& tokens, KvCache& cache, const SlotBatch& batch);

  const ModelConfig& config() const { return config_; }

 private:
  // The forward on packed weights and fused kernels (kernels.h): CPU with AVX-512 (BF16 for
  // bfloat16); the plain ATen forward otherwise, or when ASSAY_NO_KERNELS is set.
  at::Tensor forward_slots_fast(const at::Tensor& tokens, KvCache& cache, const SlotBatch& batch);
  // Checks a SlotBatch against the cache and the tokens; returns the keys any query can see.
  int64_t check_slots(const at::Tensor& tokens, const KvCache& cache, const SlotBatch& batch,
                      bool* padded) const;

  struct PackedLayer {
    kernels::PackedWeight qkv, o, gate_up, down;
    std::vector<float> qkv_b, o_b;  // empty when the model has no bias
  };
  struct Layer {
    at::Tensor input_norm, post_norm;
    at::Tensor qkv_w, qkv_b;  // [(H + 2 KV) * D, hidden], bias or undefined
    at::Tensor q_norm, k_norm;
    at::Tensor o_w, o_b;
    at::Tensor gate_up_w;  // [2 * ffn, hidden]
    at::Tensor down_w;
  };
  at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight) const;

  ModelConfig config_;
  TransformerOptions options_;
  at::Tensor embed_;    // [vocab, hidden]
  at::Tensor lm_head_;  // [vocab, hidden] (same storage as embed_ when tied)
  at::Tensor final_norm_;
  at::Tensor inv_freq_;  // [head_dim / 2] float32
  std::vector<Layer> layers_;
  bool fast_ = false;
  kernels::Type ktype_ = kernels::Type::kF32;
  std::vector<PackedLayer> packed_;
  kernels::PackedWeight lm_head_packed_;
};

// A view of a safetensors tensor as an at::Tensor (no copy; CPU; lives as long as the file map).
at::Tensor tensor_from_view(const TensorView& view);

}  // namespace assay::inference::models
