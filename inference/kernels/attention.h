// Attention over a slot's live keys written once over a vector type V (vec_avx2.h,
// vec_avx512.h): scores four keys at a time (one reduction for four), softmax with V's exp, and
// the value sums in up to four vectors of registers. Float accumulation, one rounding to the
// output type at the end. Included by one file per instruction set after its vec_*.h.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include <immintrin.h>

#include "inference/kernels/isa.h"

#ifndef ASSAY_KERNEL_TARGET
#error "include vec_avx2.h or vec_avx512.h first"
#endif

namespace assay::inference::kernels {

// The largest of four lanes.
inline float max_of4(__m128 v) {
  alignas(16) float m4[4];
  _mm_store_ps(m4, v);
  return std::max(std::max(m4[0], m4[1]), std::max(m4[2], m4[3]));
}

// q . key over `dim` lanes, into a vector of partial sums: two accumulators (two FMA chains) over
// whole vectors, the tail into the first.
template <class V>
ASSAY_KERNEL_TARGET inline typename V::F dot_partial(const float* q, const std::byte* key,
                                                     int64_t dim, Type t, size_t es) {
  constexpr int64_t L = V::kLanes;
  auto a = V::zero(), b = V::zero();
  int64_t d = 0;
  for (; d + 2 * L <= dim; d += 2 * L) {
    a = V::fma(V::load(q + d), V::load(key + d * es, t), a);
    b = V::fma(V::load(q + d + L), V::load(key + (d + L) * es, t), b);
  }
  for (; d < dim; d += L) a = V::fma(V::load(q + d, dim - d), V::load(key + d * es, t, dim - d), a);
  return V::add(a, b);
}

// out[d .. d + B lanes) = inv * sum_j p[j] * values[j][d ..] (B vectors in registers).
template <class V, int B>
ASSAY_KERNEL_TARGET inline void weighted_sum(const float* p, const std::byte* values, int64_t lo,
                                             int64_t len, int64_t dim, int64_t d, Type t, size_t es,
                                             float inv, std::byte* out) {
  constexpr int64_t L = V::kLanes;
  typename V::F acc[B];
  ASSAY_UNROLL
  for (int b = 0; b < B; ++b) acc[b] = V::zero();
  for (int64_t j = lo; j < len; ++j) {
    const auto w = V::set1(p[j]);
    const std::byte* value = values + (j * dim + d) * es;
    _mm_prefetch(reinterpret_cast<const char*>(value + 8 * dim * es), _MM_HINT_T0);
    ASSAY_UNROLL
    for (int b = 0; b < B; ++b)
      acc[b] = V::fma(w, V::load(value + b * L * es, t, dim - d - b * L), acc[b]);
  }
  const auto scale = V::set1(inv);
  ASSAY_UNROLL
  for (int b = 0; b < B; ++b)
    V::store(out + (d + b * L) * es, t, V::mul(acc[b], scale), dim - d - b * L);
}

// scores[lo .. len) = exp(scores - max); returns 1 / their sum.
template <class V>
ASSAY_KERNEL_TARGET inline float softmax_numerators(float* scores, int64_t lo, int64_t len,
                                                    float max) {
  auto sum = V::zero();
  const auto maxv = V::set1(max);
  for (int64_t i = lo; i < len; i += V::kLanes) {
    const auto e = V::exp(V::sub(V::load(scores + i, len - i), maxv));
    V::store(scores + i, Type::kF32, e, len - i);
    sum = V::add(sum, V::keep_first(e, len - i));  // lanes past len add nothing
  }
  return 1.0f / V::reduce_add(sum);
}

// IsaKernels::attention_items for any head dim and type.
template <class V>
ASSAY_KERNEL_TARGET void attention_items(const Attention& a, int64_t begin, int64_t end,
                                         float* scores) {
  constexpr int64_t L = V::kLanes;
  const size_t es = type_size(a.type);
  const int64_t groups = a.heads / a.kv_heads, dim = a.dim;
  const int64_t key_bytes = dim * static_cast<int64_t>(es);
  for (int64_t item = begin; item < end; ++item) {
    const int64_t r = item / a.kv_heads, kvh = item % a.kv_heads;
    const int64_t len = a.len[r];
    const int64_t lo = a.window > 0 ? std::max<int64_t>(0, len - a.window) : 0;
    const int64_t head = (a.slot[r] * a.kv_heads + kvh) * a.capacity * dim;
    const std::byte* keys = static_cast<const std::byte*>(a.k) + head * es;
    const std::byte* values = static_cast<const std::byte*>(a.v) + head * es;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t h = kvh * groups + g;
      const float* q = a.q + (r * a.heads + h) * dim;
      // Scores, four keys at a time (one shuffle-reduce for four), prefetching ahead.
      __m128 max4 = _mm_set1_ps(-INFINITY);
      int64_t j = lo;
      for (; j + 4 <= len; j += 4) {
        const std::byte* key = keys + j * key_bytes;
        _mm_prefetch(reinterpret_cast<const char*>(key + 8 * key_bytes), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(key + 10 * key_bytes), _MM_HINT_T0);
        const __m128 s =
            _mm_mul_ps(V::reduce4(dot_partial<V>(q, key, dim, a.type, es),
                                  dot_partial<V>(q, key + key_bytes, dim, a.type, es),
                                  dot_partial<V>(q, key + 2 * key_bytes, dim, a.type, es),
                                  dot_partial<V>(q, key + 3 * key_bytes, dim, a.type, es)),
                       _mm_set1_ps(a.scale));
        _mm_storeu_ps(scores + j, s);
        max4 = _mm_max_ps(max4, s);
      }
      float max = max_of4(max4);
      for (; j < len; ++j) {
        scores[j] =
            V::reduce_add(dot_partial<V>(q, keys + j * key_bytes, dim, a.type, es)) * a.scale;
        max = std::max(max, scores[j]);
      }
      const float inv = softmax_numerators<V>(scores, lo, len, max);
      std::byte* out = static_cast<std::byte*>(a.out) + (r * a.heads + h) * dim * es;
      for (int64_t d = 0; d < dim; d += 4 * L) {
        switch (std::min<int64_t>(4, (dim - d + L - 1) / L)) {
          case 1:
            weighted_sum<V, 1>(scores, values, lo, len, dim, d, a.type, es, inv, out);
            break;
          case 2:
            weighted_sum<V, 2>(scores, values, lo, len, dim, d, a.type, es, inv, out);
            break;
          case 3:
            weighted_sum<V, 3>(scores, values, lo, len, dim, d, a.type, es, inv, out);
            break;
          default:
            weighted_sum<V, 4>(scores, values, lo, len, dim, d, a.type, es, inv, out);
            break;
        }
      }
    }
  }
}

}  // namespace assay::inference::kernels
