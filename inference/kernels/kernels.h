// CPU kernels for the transformer's hot path on raw contiguous buffers (CTranslate2-style op ->
// kernel): a GEMM against weights packed once at load (AVX-512 fp32 FMA / AVX512-BF16 dot
// products; on CPUs without them AVX2 + FMA, bf16 widened to float), fused RMSNorm, SiLU·mul and
// RoPE + KV-cache store, and attention. Torch-free header; the kernels split work over torch's
// intra-op threads (kernels.cpp) and run one instruction set's bodies, picked from core/cpu's
// level (isa.h; most are written once over vec_avx2.h / vec_avx512.h). Every output element is
// computed the same way whatever the number of rows, so a row's result never depends on its batch
// companions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace assay::inference::kernels {

// True when this CPU runs the fp32 / bf16 kernels: AVX-512 (F, BW, DQ, VL), else AVX2 + FMA.
bool has_f32_kernels();
bool has_bf16_kernels();

// Element type of a buffer: float32 or bfloat16 (stored as uint16_t, RNE-rounded).
enum class Type { kF32, kBF16 };

// A weight W [n, k] (y = x W^T) packed in column blocks of 16 for the GEMM: fp32 as
// [n/16][k][16], bf16 as [n/16][k/2][16][2] (k pairs interleaved for vdpbf16ps). Owns its memory.
// Zeroed memory for a buffer streamed every step (weights, KV cache). From 2 MiB up it is its own
// 2 MiB-aligned mapping advised for transparent huge pages: the kernel hands it out zeroed, 2 MiB
// per fault (heap memory, even advised, faulted 4 KiB at a time on the VM and cost ~1 s per
// 600 MB KV cache); smaller buffers come from the heap. Throws std::bad_alloc.
struct BufferFree {
  size_t mapped = 0;  // bytes of the mapping, 0: heap memory
  void operator()(std::byte* p) const noexcept;
};
using Buffer = std::unique_ptr<std::byte[], BufferFree>;
Buffer alloc_zeroed(size_t bytes);

struct PackedWeight {
  int64_t n = 0, k = 0;
  Type type = Type::kF32;
  Buffer data;
};

// Packs float32 W [n, k] (row stride k) into `type`. bf16 needs k even. Throws nothing.
PackedWeight pack_weight(const float* w, int64_t n, int64_t k, Type type);

// y[m, n] (row stride ldy, element type y_type) = x[m, k] (row stride ldx, the weight's type)
// times W^T, plus bias[n] (float, may be null). With `accumulate`, y += that instead (y's old
// value is the residual: x = x + linear(h)). Results are rounded to y_type once.
void linear(const PackedWeight& w, const void* x, int64_t m, int64_t ldx, void* y, int64_t ldy,
            Type y_type, const float* bias, bool accumulate);

// out[r, :] = weight * (x[r, :] / sqrt(mean(x[r, :]^2) + eps)), computed in float and rounded to
// `type` (x and out in `type`, weight in `type`; out may alias x).
void rms_norm(const void* x, int64_t ldx, void* out, int64_t ldo, int64_t rows, int64_t n,
              const void* weight, float eps, Type type);

// out[r, i] = silu(gu[r, i]) * gu[r, f + i] for i < f (gu rows of 2f: gate then up), in float.
void silu_mul(const void* gu, int64_t ldg, void* out, int64_t ldo, int64_t rows, int64_t f,
              Type type);

// cos/sin tables [rows, half] of pos[r] * inv_freq[i] in float, as Hugging Face computes them.
void rope_tables(const int64_t* pos, int64_t rows, const float* inv_freq, int64_t half,
                 float* cos_tab, float* sin_tab);

// Rotary embedding (Hugging Face's rotate_half convention) of row r's query heads and key heads
// at position pos[r], with the tables of rope_tables. Query heads go to q_out
// (float, [rows, heads, dim]); keys and values are stored into the cache when store[r] (k_cache
// + slot[r] * slot_stride + kv_head * head_stride + pos * dim, same for v) in `type`. `qkv` rows
// are [heads + 2 kv_heads] * dim in `type` (query, key, value heads).
struct RopeStore {
  const void* qkv;
  int64_t ld_qkv;
  const int64_t* pos;
  const int64_t* slot;
  const bool* store;
  const float* cos;  // [rows, dim / 2]
  const float* sin;
  float* q_out;
  void* k_cache;
  void* v_cache;
  int64_t slot_stride, head_stride;
  int64_t heads, kv_heads, dim;
  Type type;
};
void rope_store(const RopeStore& a, int64_t rows);

// Attention of each query row r over keys/values 0 .. len[r] - 1 of its cache slot (the last
// `window` only when window > 0): softmax(q k^T * scale) v per head, grouped-query (query head h
// uses KV head h / (heads / kv_heads)). Cache layout [slot, kv_head, capacity, dim] in `type`;
// q float [rows, heads, dim]; out [rows, heads, dim] in `type`. Causal prefill and decode alike:
// no mask, no padding, no copy of the cache.
struct Attention {
  const float* q;
  void* out;
  const void* k;
  const void* v;
  const int64_t* slot;
  const int64_t* len;
  int64_t heads, kv_heads, dim, capacity, window;
  float scale;
  Type type;
};
// With `rope`, RoPE and the cache store of `rope` (same rows) run inside the attention, per item
// on the thread that attends it, saving a pass and a barrier: only valid when every row is the
// only row of its slot (a decode step), since a row must not see keys another thread stores.
void attention(const Attention& a, int64_t rows, const RopeStore* rope = nullptr);

// Index of the largest of x[0 .. n-1], the first on ties: std::max_element's answer (also when
// NaNs are present: then it is computed by std::max_element itself). n >= 1.
int64_t argmax(const float* x, int64_t n);

}  // namespace assay::inference::kernels
