// AVX-512 lanes (F, BW, DQ, VL + FMA) for the kernels written once over a vector type
// (elementwise.h, attention.h), in the manner of CTranslate2's vec_avx512.h: 16 floats; bf16
// widened to float on load and rounded to nearest even on store; a partial vector is a masked
// load or store. Included only by kernels_avx512.cpp: ASSAY_KERNEL_TARGET, which every body
// carries, names this instruction set there.
#pragma once

#include <cstddef>
#include <cstdint>

#include <immintrin.h>

#include "inference/kernels/isa.h"

#define ASSAY_KERNEL_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define ASSAY_UNROLL _Pragma("GCC unroll 16")

namespace assay::inference::kernels {

struct VecAvx512 {
  using F = __m512;
  static constexpr int64_t kLanes = 16;

  // Lanes [0, min(count, 16)).
  ASSAY_KERNEL_TARGET static __mmask16 mask(int64_t count) {
    return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1);
  }
  ASSAY_KERNEL_TARGET static F zero() { return _mm512_setzero_ps(); }
  ASSAY_KERNEL_TARGET static F set1(float v) { return _mm512_set1_ps(v); }
  ASSAY_KERNEL_TARGET static F add(F a, F b) { return _mm512_add_ps(a, b); }
  ASSAY_KERNEL_TARGET static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  ASSAY_KERNEL_TARGET static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  ASSAY_KERNEL_TARGET static F div(F a, F b) { return _mm512_div_ps(a, b); }
  ASSAY_KERNEL_TARGET static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }  // a*b+c

  // min(count, 16) elements of type t at p as float; the other lanes 0.
  ASSAY_KERNEL_TARGET static F load(const void* p, Type t, int64_t count = kLanes) {
    if (t == Type::kF32) return _mm512_maskz_loadu_ps(mask(count), p);
    const __m256i h = _mm256_maskz_loadu_epi16(mask(count), p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  ASSAY_KERNEL_TARGET static F load(const float* p, int64_t count = kLanes) {
    return _mm512_maskz_loadu_ps(mask(count), p);
  }

  // bf16 bits (nearest even) of each lane, in the low half of 32-bit lanes.
  ASSAY_KERNEL_TARGET static __m512i bf16_bits(F v) {
    __m512i b = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    b = _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    return _mm512_srli_epi32(b, 16);
  }
  // Lanes rounded to bf16 and widened back to float.
  ASSAY_KERNEL_TARGET static F round_bf16(F v) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(bf16_bits(v), 16));
  }

  // Stores lanes [0, min(count, 16)) of v at p in type t.
  ASSAY_KERNEL_TARGET static void store(void* p, Type t, F v, int64_t count = kLanes) {
    if (t == Type::kF32) {
      _mm512_mask_storeu_ps(p, mask(count), v);
    } else {
      _mm256_mask_storeu_epi16(p, mask(count), _mm512_cvtepi32_epi16(bf16_bits(v)));
    }
  }

  // v with lanes from `count` on set to 0.
  ASSAY_KERNEL_TARGET static F keep_first(F v, int64_t count) {
    return _mm512_maskz_mov_ps(mask(count), v);
  }

  // exp(x): 2^n * p(r), r = x - n ln2, |r| <= ln2 / 2, degree-6 Taylor polynomial (relative
  // error ~2e-7); scalef handles under- and overflow.
  ASSAY_KERNEL_TARGET static F exp(F x) {
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
  }

  ASSAY_KERNEL_TARGET static float reduce_add(F v) { return _mm512_reduce_add_ps(v); }

  // The lane sums of four vectors: {sum a, sum b, sum c, sum d}.
  ASSAY_KERNEL_TARGET static __m128 reduce4(F a, F b, F c, F d) {
    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    const __m512 x = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm_add_ps(_mm_add_ps(_mm512_extractf32x4_ps(x, 0), _mm512_extractf32x4_ps(x, 1)),
                      _mm_add_ps(_mm512_extractf32x4_ps(x, 2), _mm512_extractf32x4_ps(x, 3)));
  }
};

}  // namespace assay::inference::kernels
