// AVX2 + FMA lanes for the kernels written once over a vector type (elementwise.h,
// attention.h), in the manner of CTranslate2's vec_avx.h: 8 floats; bf16 widened to float on
// load (a shift: there is no bf16 arithmetic on these CPUs) and rounded to nearest even on store;
// a partial vector goes through a small stack buffer (AVX2 has no masked 16-bit loads).
// Included only by kernels_avx2.cpp: ASSAY_KERNEL_TARGET, which every body carries, names this
// instruction set there.
#pragma once

#include <cstddef>
#include <cstdint>

#include <immintrin.h>

#include "inference/kernels/isa.h"

#define ASSAY_KERNEL_TARGET __attribute__((target("avx2,fma")))
#define ASSAY_UNROLL _Pragma("GCC unroll 16")

namespace assay::inference::kernels {

struct VecAvx2 {
  using F = __m256;
  static constexpr int64_t kLanes = 8;

  ASSAY_KERNEL_TARGET static F zero() { return _mm256_setzero_ps(); }
  ASSAY_KERNEL_TARGET static F set1(float v) { return _mm256_set1_ps(v); }
  ASSAY_KERNEL_TARGET static F add(F a, F b) { return _mm256_add_ps(a, b); }
  ASSAY_KERNEL_TARGET static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  ASSAY_KERNEL_TARGET static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  ASSAY_KERNEL_TARGET static F div(F a, F b) { return _mm256_div_ps(a, b); }
  ASSAY_KERNEL_TARGET static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }  // a*b+c

  // min(count, 8) elements of type t at p as float; the other lanes 0.
  ASSAY_KERNEL_TARGET static F load(const void* p, Type t, int64_t count = kLanes) {
    if (count >= 8) {
      if (t == Type::kF32) return _mm256_loadu_ps(static_cast<const float*>(p));
      const __m128i h = _mm_loadu_si128(static_cast<const __m128i*>(p));
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    alignas(32) float tmp[8] = {};
    for (int64_t i = 0; i < count; ++i) tmp[i] = get(static_cast<const std::byte*>(p), t, i);
    return _mm256_load_ps(tmp);
  }
  ASSAY_KERNEL_TARGET static F load(const float* p, int64_t count = kLanes) {
    return load(p, Type::kF32, count);
  }

  // bf16 bits (nearest even) of each lane, in the low half of 32-bit lanes.
  ASSAY_KERNEL_TARGET static __m256i bf16_bits(F v) {
    __m256i b = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    b = _mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    return _mm256_srli_epi32(b, 16);
  }
  // Lanes rounded to bf16 and widened back to float.
  ASSAY_KERNEL_TARGET static F round_bf16(F v) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(bf16_bits(v), 16));
  }

  // Stores lanes [0, min(count, 8)) of v at p in type t.
  ASSAY_KERNEL_TARGET static void store(void* p, Type t, F v, int64_t count = kLanes) {
    if (count >= 8) {
      if (t == Type::kF32) {
        _mm256_storeu_ps(static_cast<float*>(p), v);
      } else {
        const __m256i b = bf16_bits(v);
        _mm_storeu_si128(
            static_cast<__m128i*>(p),
            _mm_packus_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1)));
      }
      return;
    }
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    for (int64_t i = 0; i < count; ++i) put(static_cast<std::byte*>(p), t, i, tmp[i]);
  }

  // v with lanes from `count` on set to 0.
  ASSAY_KERNEL_TARGET static F keep_first(F v, int64_t count) {
    if (count >= 8) return v;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lane);
    return _mm256_and_ps(v, _mm256_castsi256_ps(keep));
  }

  // exp(x): 2^n * p(r), r = x - n ln2, degree-6 Taylor polynomial (relative error ~2e-7). x is
  // clamped to [-87.3, 88] so 2^n stays a normal float (exp(-87.3) ~ 1e-38 stands in for smaller
  // results, exp(88) ~ 1.7e38 for larger).
  ASSAY_KERNEL_TARGET static F exp(F x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.3f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }

  ASSAY_KERNEL_TARGET static float reduce_add(F v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
  }

  // The lane sums of four vectors: {sum a, sum b, sum c, sum d}.
  ASSAY_KERNEL_TARGET static __m128 reduce4(F a, F b, F c, F d) {
    // hadd(hadd(a, b), hadd(c, d)): each 128-bit half holds the four sums of its half.
    const __m256 x = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  }
};

}  // namespace assay::inference::kernels
