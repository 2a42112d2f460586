// What the kernels' instruction-set files share, internal to inference/kernels/: the GEMM tile
// geometry, element-type helpers, and the table of one instruction set's bodies that kernels.cpp
// picks per call from core/cpu's level (kernels_avx512.cpp: AVX-512; kernels_avx2.cpp: AVX2 +
// FMA, bf16 widened to float). The bodies that only differ in their arithmetic are written once
// (elementwise.h, attention.h) over a vector type (vec_avx2.h, vec_avx512.h); the GEMM tiles are
// each instruction set's own (register blocking differs).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <xmmintrin.h>

#include "inference/kernels/kernels.h"

namespace assay::inference::kernels {

// GEMM tile geometry shared by both instruction sets: up to kMR rows x kNB column blocks of 16,
// results in `acc` at (row * kNB + block) * 16.
constexpr int kMR = 6;
constexpr int kNB = 4;

// One tile: rows of x (row stride ldx, the weight's type) times `depth` k steps of a panel of
// packed weights; also prefetches `pf_lines` cache lines from `pf` (the next panel) into L2,
// spread over its k loop, so the next panel's DRAM reads overlap this one's arithmetic.
using TileFn = void (*)(const void* x, int64_t ldx, const void* w, int64_t depth, float* acc,
                        const std::byte* pf, int64_t pf_lines);
using TileTable = TileFn[kMR][kNB];

// A tile's share of the next panel's prefetch: lines [q * per, (q + 1) * per) of pf (clamped to
// pf_lines) into L2, at its k step q.
inline void prefetch_slice_l2(const std::byte* pf, int64_t pf_lines, int64_t q, int64_t per) {
  for (int64_t l = q * per; l < std::min(pf_lines, (q + 1) * per); ++l)
    _mm_prefetch(reinterpret_cast<const char*>(pf + l * 64), _MM_HINT_T1);
}

// The TileTable of a tile template fn<MR, NB>: entry [MR - 1][NB - 1].
#define ASSAY_TILE_TABLE(fn)                                                                \
  {                                                                                         \
    {fn<1, 1>, fn<1, 2>, fn<1, 3>, fn<1, 4>}, {fn<2, 1>, fn<2, 2>, fn<2, 3>, fn<2, 4>},     \
        {fn<3, 1>, fn<3, 2>, fn<3, 3>, fn<3, 4>}, {fn<4, 1>, fn<4, 2>, fn<4, 3>, fn<4, 4>}, \
        {fn<5, 1>, fn<5, 2>, fn<5, 3>, fn<5, 4>}, {                                         \
      fn<6, 1>, fn<6, 2>, fn<6, 3>, fn<6, 4>                                                \
    }                                                                                       \
  }

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

inline float from_bf16(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Element i of a buffer of type t, as float; and the store of one.
inline float get(const std::byte* p, Type t, int64_t i) {
  if (t == Type::kF32) {
    float f;
    std::memcpy(&f, p + i * 4, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p + i * 2, 2);
  return from_bf16(h);
}
inline void put(std::byte* p, Type t, int64_t i, float v) {
  if (t == Type::kF32) {
    std::memcpy(p + i * 4, &v, 4);
  } else {
    const uint16_t h = to_bf16(v);
    std::memcpy(p + i * 2, &h, 2);
  }
}

// One instruction set's kernel bodies; kernels.cpp keeps the threading and calls these on its
// threads' row or item ranges. Same results contract as kernels.h.
struct IsaKernels {
  // Adds bias, rounds, accumulates into and stores one GEMM tile's results.
  void (*tile_epilogue)(const float* acc, int mr, int64_t col0, int64_t n, void* y, int64_t ldy,
                        Type yt, const float* bias, bool accumulate);
  void (*rms_norm_rows)(const void* x, int64_t ldx, void* out, int64_t ldo, int64_t begin,
                        int64_t end, int64_t n, const void* weight, float eps, Type t);
  void (*silu_mul_rows)(const void* gu, int64_t ldg, void* out, int64_t ldo, int64_t begin,
                        int64_t end, int64_t f, Type t);
  // Row r's query heads [h0, h1) to q_out and, when the row is stored, its key heads [k0, k1)
  // (rotated) and value heads to the cache.
  void (*rope_heads)(const RopeStore& a, int64_t r, int64_t h0, int64_t h1, int64_t k0, int64_t k1);
  // Attention items [begin, end) (item = row * kv_heads + kv_head); scores: capacity + 16 floats.
  void (*attention_items)(const Attention& a, int64_t begin, int64_t end, float* scores);
  // Max of x[0 .. n) into *out, false if a NaN is present; null: argmax uses std::max_element.
  bool (*vector_max)(const float* x, int64_t n, float* out);
};

namespace avx2 {
extern const TileTable kTilesF32;
extern const TileTable kTilesBf16;  // bf16 widened to float
extern const IsaKernels kKernels;
}  // namespace avx2

namespace avx512 {
extern const TileTable kTilesF32;
extern const TileTable kTilesBf16;  // AVX512-BF16 dot products
extern const IsaKernels kKernels;
}  // namespace avx512

}  // namespace assay::inference::kernels
