// The row-wise kernels written once over a vector type V (vec_avx2.h, vec_avx512.h): RMSNorm,
// SiLU·mul, RoPE with the KV-cache store, and the GEMM tile epilogue (bias, rounding, residual).
// Arithmetic in float lanes, one rounding to the output type per element; only the lane count
// and the instructions differ between instruction sets. Included by one file per instruction set
// after its vec_*.h (which defines ASSAY_KERNEL_TARGET).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "inference/kernels/isa.h"

#ifndef ASSAY_KERNEL_TARGET
#error "include vec_avx2.h or vec_avx512.h first"
#endif

namespace assay::inference::kernels {

template <class V>
ASSAY_KERNEL_TARGET void tile_epilogue(const float* acc, int mr, int64_t col0, int64_t n, void* y,
                                       int64_t ldy, Type yt, const float* bias, bool accumulate) {
  constexpr int64_t L = V::kLanes;
  const size_t es = type_size(yt);
  for (int64_t c = col0; c < std::min(n, col0 + kNB * 16); c += L) {
    const int64_t count = n - c;
    const auto b = bias != nullptr ? V::load(bias + c, count) : V::zero();
    for (int r = 0; r < mr; ++r) {
      auto v = V::add(V::load(acc + r * kNB * 16 + (c - col0)), b);
      std::byte* dst = static_cast<std::byte*>(y) + (r * ldy + c) * es;
      if (accumulate) {
        if (yt == Type::kBF16) v = V::round_bf16(v);
        v = V::add(v, V::load(dst, yt, count));
      }
      V::store(dst, yt, v, count);
    }
  }
}

template <class V>
ASSAY_KERNEL_TARGET void rms_norm_rows(const void* x, int64_t ldx, void* out, int64_t ldo,
                                       int64_t begin, int64_t end, int64_t n, const void* weight,
                                       float eps, Type t) {
  constexpr int64_t L = V::kLanes;
  const size_t es = type_size(t);
  const auto* wt = static_cast<const std::byte*>(weight);
  for (int64_t r = begin; r < end; ++r) {
    const std::byte* src = static_cast<const std::byte*>(x) + r * ldx * es;
    std::byte* dst = static_cast<std::byte*>(out) + r * ldo * es;
    auto ss = V::zero();
    for (int64_t i = 0; i < n; i += L) {
      const auto v = V::load(src + i * es, t, n - i);
      ss = V::fma(v, v, ss);
    }
    const auto s = V::set1(1.0f / std::sqrt(V::reduce_add(ss) / static_cast<float>(n) + eps));
    for (int64_t i = 0; i < n; i += L) {
      auto v = V::mul(V::load(src + i * es, t, n - i), s);
      if (t == Type::kBF16) v = V::round_bf16(v);
      V::store(dst + i * es, t, V::mul(v, V::load(wt + i * es, t, n - i)), n - i);
    }
  }
}

template <class V>
ASSAY_KERNEL_TARGET void silu_mul_rows(const void* gu, int64_t ldg, void* out, int64_t ldo,
                                       int64_t begin, int64_t end, int64_t f, Type t) {
  constexpr int64_t L = V::kLanes;
  const size_t es = type_size(t);
  for (int64_t r = begin; r < end; ++r) {
    const std::byte* g = static_cast<const std::byte*>(gu) + r * ldg * es;
    std::byte* dst = static_cast<std::byte*>(out) + r * ldo * es;
    for (int64_t i = 0; i < f; i += L) {
      const auto gate = V::load(g + i * es, t, f - i), up = V::load(g + (f + i) * es, t, f - i);
      const auto e = V::exp(V::sub(V::zero(), gate));
      const auto silu = V::div(gate, V::add(V::set1(1.0f), e));
      V::store(dst + i * es, t, V::mul(silu, up), f - i);
    }
  }
}

// out[i] = a cos - b sin, out[i + half] = b cos + a sin over one head (src in t, dst in dt).
template <class V>
ASSAY_KERNEL_TARGET inline void rope_head(const std::byte* src, Type t, const float* cs,
                                          const float* sn, int64_t half, void* dst_v, Type dt) {
  constexpr int64_t L = V::kLanes;
  auto* dst = static_cast<std::byte*>(dst_v);
  const size_t es = type_size(t), des = type_size(dt);
  for (int64_t i = 0; i < half; i += L) {
    const int64_t n = half - i;
    const auto a = V::load(src + i * es, t, n), b = V::load(src + (half + i) * es, t, n);
    const auto c = V::load(cs + i, n), s = V::load(sn + i, n);
    V::store(dst + i * des, dt, V::sub(V::mul(a, c), V::mul(b, s)), n);
    V::store(dst + (half + i) * des, dt, V::add(V::mul(b, c), V::mul(a, s)), n);
  }
}

// Row r's query heads [h0, h1) to q_out and, when the row is stored, its key heads [k0, k1)
// (rotated) and value heads to the cache (IsaKernels::rope_heads).
template <class V>
ASSAY_KERNEL_TARGET void rope_heads(const RopeStore& a, int64_t r, int64_t h0, int64_t h1,
                                    int64_t k0, int64_t k1) {
  const size_t es = type_size(a.type);
  const int64_t half = a.dim / 2;
  const std::byte* row = static_cast<const std::byte*>(a.qkv) + r * a.ld_qkv * es;
  const float* cs = a.cos + r * half;
  const float* sn = a.sin + r * half;
  for (int64_t h = h0; h < h1; ++h)
    rope_head<V>(row + h * a.dim * es, a.type, cs, sn, half, a.q_out + (r * a.heads + h) * a.dim,
                 Type::kF32);
  if (!a.store[r]) return;
  for (int64_t h = k0; h < k1; ++h) {
    const int64_t off = a.slot[r] * a.slot_stride + h * a.head_stride + a.pos[r] * a.dim;
    rope_head<V>(row + (a.heads + h) * a.dim * es, a.type, cs, sn, half,
                 static_cast<std::byte*>(a.k_cache) + off * es, a.type);
    std::memcpy(static_cast<std::byte*>(a.v_cache) + off * es,
                row + (a.heads + a.kv_heads + h) * a.dim * es, a.dim * es);
  }
}

}  // namespace assay::inference::kernels
