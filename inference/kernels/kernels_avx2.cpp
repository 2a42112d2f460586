// The AVX2 + FMA kernels, for CPUs without AVX-512 (Zen 1-3, most laptops) and for bf16 GEMMs on
// AVX-512 CPUs without AVX512-BF16: the GEMM tiles (bf16 widened to float: there is no bf16
// arithmetic on these CPUs) and the bodies written once (elementwise.h, attention.h)
// instantiated over VecAvx2. Same packed-weight layout and results contract as the AVX-512 file.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <immintrin.h>

#include "inference/kernels/vec_avx2.h"

#include "inference/kernels/attention.h"
#include "inference/kernels/elementwise.h"
#include "inference/kernels/isa.h"

namespace assay::inference::kernels::avx2 {

namespace {

using V = VecAvx2;

// --- GEMM ---------------------------------------------------------------------------------------
// A 16-column block is two 8-lane halves: R rows x 2 halves of accumulators. fp32: R <= 6 (12
// accumulators, 2 weights, 1 broadcast: 15 of the 16 ymm registers). The unrolling is forced for
// the same reason as in kernels_avx512.cpp (GCC 12 -O2 kept such loops rolled, accumulators on the
// stack).

// c[r] += x[r * ldx] * {w0, w1} for the R rows of a block (one broadcast per row); and the
// block's accumulators stored to `acc` (layout of TileFn).
template <int R>
ASSAY_KERNEL_TARGET inline void madd_rows(__m256 (&c)[R][2], const float* x, int64_t ldx, __m256 w0,
                                          __m256 w1) {
  ASSAY_UNROLL
  for (int r = 0; r < R; ++r) {
    const __m256 xb = _mm256_broadcast_ss(x + r * ldx);
    c[r][0] = _mm256_fmadd_ps(xb, w0, c[r][0]);
    c[r][1] = _mm256_fmadd_ps(xb, w1, c[r][1]);
  }
}
template <int R>
ASSAY_KERNEL_TARGET inline void store_rows(const __m256 (&c)[R][2], float* acc) {
  ASSAY_UNROLL
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(acc + r * kNB * 16, c[r][0]);
    _mm256_storeu_ps(acc + r * kNB * 16 + 8, c[r][1]);
  }
}

template <int R>
ASSAY_KERNEL_TARGET void block_f32(const float* x, int64_t ldx, const float* w, int64_t k,
                                   float* acc, const std::byte* pf, int64_t pf_lines, int64_t step0,
                                   int64_t per) {
  __m256 c[R][2];
  ASSAY_UNROLL
  for (int r = 0; r < R; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    if (pf != nullptr) prefetch_slice_l2(pf, pf_lines, step0 + kk, per);
    const __m256 w0 = _mm256_loadu_ps(w + kk * 16), w1 = _mm256_loadu_ps(w + kk * 16 + 8);
    madd_rows(c, x + kk, ldx, w0, w1);
  }
  store_rows(c, acc);
}

template <int MR, int NB>
ASSAY_KERNEL_TARGET void tile_f32(const void* xv, int64_t ldx, const void* wv, int64_t k,
                                  float* acc, const std::byte* pf, int64_t pf_lines) {
  const int64_t per = (pf_lines + NB * k - 1) / (NB * k);
  const float* x = static_cast<const float*>(xv);
  const float* w = static_cast<const float*>(wv);
  for (int b = 0; b < NB; ++b)
    block_f32<MR>(x, ldx, w + b * k * 16, k, acc + b * 16, pf, pf_lines, b * k, per);
}

// bf16: a k pair of a block is 64 bytes, [column][2]; each 32-bit lane's low half is the even k,
// its high half the odd one. The tile's x rows are first widened to float (xf, row stride 2 kp),
// so each row's value is one broadcast load; per k pair the even halves of the weights are
// widened (a shift) and used by every row, then the odd ones (two shifts): 12 accumulators, 2
// weights, 1 broadcast. Per element: c += x_even * w_even, then c += x_odd * w_odd, k in order.
template <int R>
ASSAY_KERNEL_TARGET void block_bf16(const float* xf, int64_t ldx, const uint16_t* w, int64_t kp,
                                    float* acc, const std::byte* pf, int64_t pf_lines,
                                    int64_t step0, int64_t per) {
  __m256 c[R][2];
  ASSAY_UNROLL
  for (int r = 0; r < R; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (int64_t q = 0; q < kp; ++q) {
    if (pf != nullptr) prefetch_slice_l2(pf, pf_lines, step0 + q, per);
    const auto* wq = reinterpret_cast<const __m256i*>(w + q * 32);
    const __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256(wq), 16));
    const __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256(wq + 1), 16));
    madd_rows(c, xf + 2 * q, ldx, e0, e1);
    // The high halves by two shifts, not a mask: a mask register would push an accumulator
    // onto the stack (GCC 12 spilled four).
    const __m256 o0 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_srli_epi32(_mm256_loadu_si256(wq), 16), 16));
    const __m256 o1 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_srli_epi32(_mm256_loadu_si256(wq + 1), 16), 16));
    madd_rows(c, xf + 2 * q + 1, ldx, o0, o1);
  }
  store_rows(c, acc);
}

template <int MR, int NB>
ASSAY_KERNEL_TARGET void tile_bf16(const void* xv, int64_t ldx, const void* wv, int64_t kp,
                                   float* acc, const std::byte* pf, int64_t pf_lines) {
  const int64_t per = (pf_lines + NB * kp - 1) / (NB * kp);
  const int64_t k = 2 * kp;
  thread_local std::vector<float> widened;
  if (widened.size() < static_cast<size_t>(MR * k)) widened.resize(MR * k);
  float* xf = widened.data();
  for (int r = 0; r < MR; ++r) {
    const auto* src =
        reinterpret_cast<const std::byte*>(static_cast<const uint16_t*>(xv) + r * ldx);
    for (int64_t i = 0; i < k; i += 8)
      V::store(xf + r * k + i, Type::kF32, V::load(src + i * 2, Type::kBF16, k - i), k - i);
  }
  const uint16_t* w = static_cast<const uint16_t*>(wv);
  for (int b = 0; b < NB; ++b)
    block_bf16<MR>(xf, k, w + b * kp * 32, kp, acc + b * 16, pf, pf_lines, b * kp, per);
}

}  // namespace

const TileTable kTilesF32 = ASSAY_TILE_TABLE(tile_f32);
const TileTable kTilesBf16 = ASSAY_TILE_TABLE(tile_bf16);

const IsaKernels kKernels = {tile_epilogue<V>, rms_norm_rows<V>,   silu_mul_rows<V>,
                             rope_heads<V>,    attention_items<V>, nullptr};

}  // namespace assay::inference::kernels::avx2
