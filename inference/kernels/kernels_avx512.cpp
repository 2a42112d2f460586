// The AVX-512 kernels (F, BW, DQ, VL + FMA; AVX512-BF16 for bf16 GEMM tiles): the GEMM tiles,
// bf16 attention for head dims of 32 to 128, and the bodies written once (elementwise.h,
// attention.h) instantiated over VecAvx512. kernels.cpp picks this table where core/cpu reports
// the avx512 level.

// GCC 12 flags its own intrinsics headers (_mm512_undefined_*, _mm512_reduce_max_ps) as
// (maybe-)uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif  // before any include: the warnings point into the headers

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "inference/kernels/vec_avx512.h"

#include "inference/kernels/attention.h"
#include "inference/kernels/elementwise.h"
#include "inference/kernels/isa.h"

#define ASSAY_AVX512BF16 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma,avx512bf16")))

namespace assay::inference::kernels::avx512 {

namespace {

using V = VecAvx512;

// --- GEMM tiles: MR rows x NB column blocks of 16, accumulators in registers -------------------
// The register tile only exists when the r/b loops are fully unrolled: GCC 12 at -O2 kept them as
// loops with the accumulators on the stack (a load and a store around every vdpbf16ps; perf:
// 74% of a batch-32 run in that store), so the unrolling is forced (ASSAY_UNROLL).

// A tile's accumulators set to zero, and stored to `acc` (layout of TileFn).
template <int MR, int NB>
ASSAY_KERNEL_TARGET inline void zero_tile(__m512 (&c)[MR][NB]) {
  ASSAY_UNROLL
  for (int r = 0; r < MR; ++r) {
    ASSAY_UNROLL
    for (int b = 0; b < NB; ++b) c[r][b] = _mm512_setzero_ps();
  }
}
template <int MR, int NB>
ASSAY_KERNEL_TARGET inline void store_tile(const __m512 (&c)[MR][NB], float* acc) {
  ASSAY_UNROLL
  for (int r = 0; r < MR; ++r) {
    ASSAY_UNROLL
    for (int b = 0; b < NB; ++b) _mm512_storeu_ps(acc + (r * kNB + b) * 16, c[r][b]);
  }
}

template <int MR, int NB>
ASSAY_KERNEL_TARGET void tile_f32(const void* xv, int64_t ldx, const void* wv, int64_t k,
                                  float* acc, const std::byte* pf, int64_t pf_lines) {
  const int64_t per = (pf_lines + k - 1) / k;
  const float* x = static_cast<const float*>(xv);
  const float* w = static_cast<const float*>(wv);
  __m512 c[MR][NB];
  zero_tile(c);
  for (int64_t kk = 0; kk < k; ++kk) {
    if (pf != nullptr) prefetch_slice_l2(pf, pf_lines, kk, per);
    __m512 wreg[NB];
    ASSAY_UNROLL
    for (int b = 0; b < NB; ++b) wreg[b] = _mm512_loadu_ps(w + (b * k + kk) * 16);
    ASSAY_UNROLL
    for (int r = 0; r < MR; ++r) {
      const __m512 xb = _mm512_set1_ps(x[r * ldx + kk]);
      ASSAY_UNROLL
      for (int b = 0; b < NB; ++b) c[r][b] = _mm512_fmadd_ps(xb, wreg[b], c[r][b]);
    }
  }
  store_tile(c, acc);
}

template <int MR, int NB>
ASSAY_AVX512BF16 void tile_bf16(const void* xv, int64_t ldx, const void* wv, int64_t kp, float* acc,
                                const std::byte* pf, int64_t pf_lines) {
  const int64_t per = (pf_lines + kp - 1) / kp;
  const uint16_t* x = static_cast<const uint16_t*>(xv);
  const uint16_t* w = static_cast<const uint16_t*>(wv);
  __m512 c[MR][NB];
  zero_tile(c);
  for (int64_t q = 0; q < kp; ++q) {
    if (pf != nullptr) prefetch_slice_l2(pf, pf_lines, q, per);
    __m512i wreg[NB];
    ASSAY_UNROLL
    for (int b = 0; b < NB; ++b) wreg[b] = _mm512_loadu_si512(w + (b * kp + q) * 32);
    ASSAY_UNROLL
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      std::memcpy(&pair, x + r * ldx + 2 * q, sizeof pair);
      const __m512i xb = _mm512_set1_epi32(pair);
      ASSAY_UNROLL
      for (int b = 0; b < NB; ++b)
        c[r][b] = _mm512_dpbf16_ps(c[r][b], (__m512bh)xb, (__m512bh)wreg[b]);
    }
  }
  store_tile(c, acc);
}

// bf16 attention for head dims of C * 32 (C <= 4): 32 bf16 lanes are one 64-byte load, split
// into their even and odd elements as float (a shift and a mask), so q·k and the value sums run in
// float on half the loads and conversions of load16; results as attention_items (float
// accumulation, one rounding to bf16 at the end) up to the order of the additions.
ASSAY_KERNEL_TARGET inline __m512 bf16_even(__m512i v) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}
ASSAY_KERNEL_TARGET inline __m512 bf16_odd(__m512i v) {
  return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000))));
}

template <int C>
ASSAY_KERNEL_TARGET inline __m512 dot_bf16(const __m512* qe, const __m512* qo,
                                           const std::byte* key) {
  __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
  ASSAY_UNROLL
  for (int c = 0; c < C; ++c) {
    const __m512i k = _mm512_loadu_si512(key + c * 64);
    a = _mm512_fmadd_ps(qe[c], bf16_even(k), a);
    b = _mm512_fmadd_ps(qo[c], bf16_odd(k), b);
  }
  return _mm512_add_ps(a, b);
}

constexpr int64_t kPrefetchKeys = 16;

template <int C>
ASSAY_KERNEL_TARGET void attention_items_bf16(const Attention& a, int64_t begin, int64_t end,
                                              float* scores) {
  constexpr int64_t dim = C * 32, key_bytes = dim * 2;
  const int64_t groups = a.heads / a.kv_heads;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t r = item / a.kv_heads, kvh = item % a.kv_heads;
    const int64_t len = a.len[r];
    const int64_t lo = a.window > 0 ? std::max<int64_t>(0, len - a.window) : 0;
    const int64_t head = (a.slot[r] * a.kv_heads + kvh) * a.capacity * dim;
    const std::byte* keys = static_cast<const std::byte*>(a.k) + head * 2;
    const std::byte* values = static_cast<const std::byte*>(a.v) + head * 2;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t h = kvh * groups + g;
      const float* q = a.q + (r * a.heads + h) * dim;
      __m512 qe[C], qo[C];  // q's even / odd elements, pre-scaled
      const __m512 sc = _mm512_set1_ps(a.scale);
      const __m512i even_idx =
          _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
      const __m512i odd_idx = _mm512_add_epi32(even_idx, _mm512_set1_epi32(1));
      ASSAY_UNROLL
      for (int c = 0; c < C; ++c) {
        const __m512 lo16 = _mm512_loadu_ps(q + c * 32), hi16 = _mm512_loadu_ps(q + c * 32 + 16);
        qe[c] = _mm512_mul_ps(_mm512_permutex2var_ps(lo16, even_idx, hi16), sc);
        qo[c] = _mm512_mul_ps(_mm512_permutex2var_ps(lo16, odd_idx, hi16), sc);
      }
      __m128 max4 = _mm_set1_ps(-INFINITY);
      int64_t j = lo;
      for (; j + 4 <= len; j += 4) {
        const std::byte* key = keys + j * key_bytes;
        // Four keys are 4 * C lines (and their values as many): the first 2 * C of each are
        // fetched kPrefetchKeys keys ahead, the values into L2 for the second pass; the hardware
        // prefetcher, already on these streams, brings the rest (this is the measured variant).
        ASSAY_UNROLL
        for (int l = 0; l < 2 * C; ++l) {
          _mm_prefetch(reinterpret_cast<const char*>(key + kPrefetchKeys * key_bytes + l * 64),
                       _MM_HINT_T0);
          _mm_prefetch(
              reinterpret_cast<const char*>(values + (j + kPrefetchKeys) * key_bytes + l * 64),
              _MM_HINT_T1);
        }
        const __m128 s4 = V::reduce4(dot_bf16<C>(qe, qo, key), dot_bf16<C>(qe, qo, key + key_bytes),
                                     dot_bf16<C>(qe, qo, key + 2 * key_bytes),
                                     dot_bf16<C>(qe, qo, key + 3 * key_bytes));
        _mm_storeu_ps(scores + j, s4);
        max4 = _mm_max_ps(max4, s4);
      }
      float max = max_of4(max4);
      for (; j < len; ++j) {
        scores[j] = _mm512_reduce_add_ps(dot_bf16<C>(qe, qo, keys + j * key_bytes));
        max = std::max(max, scores[j]);
      }
      const __m512 inv = _mm512_set1_ps(softmax_numerators<V>(scores, lo, len, max));
      // The next item's first keys, so its score pass starts on a warm stream: 2 * C lines per
      // key for up to kPrefetchKeys keys, i.e. its first 2 * kPrefetchKeys keys' lines (a short
      // item's fetch runs past its live keys into its own unused cache rows; harmless).
      if (g + 1 == groups && item + 1 < end) {
        const int64_t r2 = (item + 1) / a.kv_heads, kvh2 = (item + 1) % a.kv_heads;
        const int64_t lo2 = a.window > 0 ? std::max<int64_t>(0, a.len[r2] - a.window) : 0;
        const std::byte* k2 = static_cast<const std::byte*>(a.k) +
                              ((a.slot[r2] * a.kv_heads + kvh2) * a.capacity + lo2) * key_bytes;
        const int64_t lines = std::min<int64_t>(a.len[r2] - lo2, kPrefetchKeys) * 2 * C;
        for (int64_t l = 0; l < lines; ++l)
          _mm_prefetch(reinterpret_cast<const char*>(k2 + l * 64), _MM_HINT_T0);
      }
      // Value sums: even and odd elements in separate float accumulators, interleaved at the end.
      __m512 ae[C], ao[C];
      ASSAY_UNROLL
      for (int c = 0; c < C; ++c) ae[c] = ao[c] = _mm512_setzero_ps();
      for (int64_t jj = lo; jj < len; ++jj) {
        const __m512 w = _mm512_set1_ps(scores[jj]);
        const std::byte* value = values + jj * key_bytes;
        ASSAY_UNROLL
        for (int c = 0; c < C; ++c) {
          const __m512i v = _mm512_loadu_si512(value + c * 64);
          ae[c] = _mm512_fmadd_ps(w, bf16_even(v), ae[c]);
          ao[c] = _mm512_fmadd_ps(w, bf16_odd(v), ao[c]);
        }
      }
      std::byte* out = static_cast<std::byte*>(a.out) + (r * a.heads + h) * dim * 2;
      ASSAY_UNROLL
      for (int c = 0; c < C; ++c) {
        const __m512i e = V::bf16_bits(_mm512_mul_ps(ae[c], inv));
        const __m512i o = V::bf16_bits(_mm512_mul_ps(ao[c], inv));
        _mm512_storeu_si512(out + c * 64, _mm512_or_si512(e, _mm512_slli_epi32(o, 16)));
      }
    }
  }
}

// Max of x[0 .. n) in float lanes; false when a NaN is among them.
ASSAY_KERNEL_TARGET bool vector_max(const float* x, int64_t n, float* out) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  __mmask16 unordered = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = V::mask(n - i);
    const __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, x + i);
    unordered |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = _mm512_max_ps(m, v);
  }
  *out = _mm512_reduce_max_ps(m);
  return unordered == 0;
}

// bf16 with a head dim of 32, 64, 96 or 128: the even/odd split above; else the body written
// once (attention.h).
void attention(const Attention& a, int64_t begin, int64_t end, float* scores) {
  if (a.type != Type::kBF16 || a.dim % 32 != 0 || a.dim > 128) {
    attention_items<V>(a, begin, end, scores);
  } else if (a.dim == 32) {
    attention_items_bf16<1>(a, begin, end, scores);
  } else if (a.dim == 64) {
    attention_items_bf16<2>(a, begin, end, scores);
  } else if (a.dim == 96) {
    attention_items_bf16<3>(a, begin, end, scores);
  } else {
    attention_items_bf16<4>(a, begin, end, scores);
  }
}

}  // namespace

const TileTable kTilesF32 = ASSAY_TILE_TABLE(tile_f32);
const TileTable kTilesBf16 = ASSAY_TILE_TABLE(tile_bf16);

const IsaKernels kKernels = {tile_epilogue<V>, rms_norm_rows<V>, silu_mul_rows<V>,
                             rope_heads<V>,    attention,        vector_max};

}  // namespace assay::inference::kernels::avx512
