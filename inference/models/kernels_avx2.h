// AVX2 + FMA bodies of the kernels of kernels.h, for CPUs without AVX-512 (Zen 1-3, most
// laptops) and for bf16 on AVX-512 CPUs without AVX512-BF16. Internal to kernels.cpp, which keeps
// the threading and dispatches here; same packed-weight layout, same results contract (every
// output element computed the same way whatever the number of rows). bf16 is widened to float
// (a shift) and multiplied with FMA: there is no bf16 arithmetic on these CPUs.
#pragma once

#include <cstddef>
#include <cstdint>

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

namespace avx2 {

bool supported();  // AVX2 and FMA

extern const TileFn kTilesF32[kMR][kNB];
extern const TileFn kTilesBf16[kMR][kNB];

// Adds bias, rounds, accumulates into and stores one tile's results (plain C++: a tile's
// epilogue is ~1/k of its work).
void tile_epilogue(const float* acc, int mr, int64_t col0, int64_t n, void* y, int64_t ldy,
                   Type yt, const float* bias, bool accumulate);

void rms_norm_rows(const void* x, int64_t ldx, void* out, int64_t ldo, int64_t begin, int64_t end,
                   int64_t n, const void* weight, float eps, Type t);
void silu_mul_rows(const void* gu, int64_t ldg, void* out, int64_t ldo, int64_t begin,
                   int64_t end, int64_t f, Type t);
void rope_heads(const RopeStore& a, int64_t r, int64_t h0, int64_t h1, int64_t k0, int64_t k1);
// Attention items [begin, end) (item = row * kv_heads + kv_head); scores: capacity + 16 floats.
void attention_items(const Attention& a, int64_t begin, int64_t end, float* scores);

}  // namespace avx2
}  // namespace assay::inference::kernels
