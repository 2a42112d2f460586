// What kernels.cpp and kernels_avx2.cpp share (tile geometry, type helpers, the RoPE row driver),
// and the AVX2 + FMA bodies of the kernels of kernels.h, for CPUs without AVX-512 (Zen 1-3, most
// laptops) and for bf16 on AVX-512 CPUs without AVX512-BF16. Internal to kernels.cpp, which keeps
// the threading and dispatches here; same packed-weight layout, same results contract (every
// output element computed the same way whatever the number of rows). bf16 is widened to float
// (a shift) and multiplied with FMA: there is no bf16 arithmetic on these CPUs.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "inference/models/kernels.h"

namespace assay::inference::kernels {

// GEMM tile geometry shared by both instruction sets: up to kMR rows x kNB column blocks of 16,
// results in `acc` at (row * kNB + block) * 16.
constexpr int kMR = 6;
constexpr int kNB = 4;

// One tile: rows of x (row stride ldx, the weight's type) times `depth` k steps of a panel of
// packed weights; also prefetches `pf_lines` cache lines from `pf` (the next panel) into L2.
using TileFn = void (*)(const void* x, int64_t ldx, const void* w, int64_t depth, float* acc,
                        const std::byte* pf, int64_t pf_lines);

inline size_t type_size(Type t) {
  return t == Type::kF32 ? 4 : 2;
}

// float -> bf16 bits, rounded to nearest even as torch does (NaN: a quiet NaN).
inline uint16_t to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if (std::isnan(f)) return 0x7fc0;
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

// Row r's query heads [h0, h1) to q_out and, when the row is stored, its key heads [k0, k1)
// (rotated) and value heads to the cache. RopeHead(src, type, cos, sin, half, dst, dst_type)
// rotates one head: each instruction set's own body.
template <auto RopeHead>
void rope_heads(const RopeStore& a, int64_t r, int64_t h0, int64_t h1, int64_t k0, int64_t k1) {
  const size_t es = type_size(a.type);
  const int64_t half = a.dim / 2;
  const std::byte* row = static_cast<const std::byte*>(a.qkv) + r * a.ld_qkv * es;
  const float* cs = a.cos + r * half;
  const float* sn = a.sin + r * half;
  for (int64_t h = h0; h < h1; ++h)
    RopeHead(row + h * a.dim * es, a.type, cs, sn, half, a.q_out + (r * a.heads + h) * a.dim,
             Type::kF32);
  if (!a.store[r]) return;
  for (int64_t h = k0; h < k1; ++h) {
    const int64_t off = a.slot[r] * a.slot_stride + h * a.head_stride + a.pos[r] * a.dim;
    RopeHead(row + (a.heads + h) * a.dim * es, a.type, cs, sn, half,
             static_cast<std::byte*>(a.k_cache) + off * es, a.type);
    std::memcpy(static_cast<std::byte*>(a.v_cache) + off * es,
                row + (a.heads + a.kv_heads + h) * a.dim * es, a.dim * es);
  }
}

namespace avx2 {

extern const TileFn kTilesF32[kMR][kNB];
extern const TileFn kTilesBf16[kMR][kNB];

// Adds bias, rounds, accumulates into and stores one tile's results (plain C++: a tile's
// epilogue is ~1/k of its work).
void tile_epilogue(const float* acc, int mr, int64_t col0, int64_t n, void* y, int64_t ldy, Type yt,
                   const float* bias, bool accumulate);

void rms_norm_rows(const void* x, int64_t ldx, void* out, int64_t ldo, int64_t begin, int64_t end,
                   int64_t n, const void* weight, float eps, Type t);
void silu_mul_rows(const void* gu, int64_t ldg, void* out, int64_t ldo, int64_t begin, int64_t end,
                   int64_t f, Type t);
// out[i] = a cos - b sin, out[i + half] = b cos + a sin over one head (for rope_heads).
void rope_head(const std::byte* src, Type t, const float* cs, const float* sn, int64_t half,
               void* dst, Type dt);
// Attention items [begin, end) (item = row * kv_heads + kv_head); scores: capacity + 16 floats.
void attention_items(const Attention& a, int64_t begin, int64_t end, float* scores);

}  // namespace avx2
}  // namespace assay::inference::kernels
