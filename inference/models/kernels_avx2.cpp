#include "inference/models/kernels_avx2.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <immintrin.h>

namespace assay::inference::kernels::avx2 {

#define ASSAY_AVX2 __attribute__((target("avx2,fma")))
#define ASSAY_UNROLL _Pragma("GCC unroll 16")

namespace {

inline float from_bf16(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline float round_bf16(float f) {
  return from_bf16(to_bf16(f));
}

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

// Eight lanes from p (count < 8: the first `count`, the rest zero).
ASSAY_AVX2 inline __m256 load8(const std::byte* p, Type t, int64_t count = 8) {
  if (count >= 8) {
    if (t == Type::kF32) return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  alignas(32) float tmp[8] = {};
  for (int64_t i = 0; i < count; ++i) tmp[i] = get(p, t, i);
  return _mm256_load_ps(tmp);
}

ASSAY_AVX2 inline __m256i bf16_bits(__m256 v) {
  __m256i b = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  b = _mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
  return _mm256_srli_epi32(b, 16);
}

// Stores the first `count` lanes of v to p in type t.
ASSAY_AVX2 inline void store8(std::byte* p, Type t, __m256 v, int64_t count = 8) {
  if (count >= 8) {
    if (t == Type::kF32) {
      _mm256_storeu_ps(reinterpret_cast<float*>(p), v);
    } else {
      const __m256i b = bf16_bits(v);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                       _mm_packus_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1)));
    }
    return;
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  for (int64_t i = 0; i < count; ++i) put(p, t, i, tmp[i]);
}

ASSAY_AVX2 inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// exp(x) for float lanes: 2^n * p(r), r = x - n ln2, degree-6 Taylor polynomial (relative error
// ~2e-7). x is clamped to [-87.3, 88] so 2^n stays a normal float (exp(-87.3) ~ 1e-38 stands in
// for smaller results, exp(88) ~ 1.7e38 for larger).
ASSAY_AVX2 inline __m256 exp8(__m256 x) {
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

ASSAY_AVX2 inline void prefetch_step(const std::byte* pf, int64_t pf_lines, int64_t q,
                                     int64_t per) {
  for (int64_t l = q * per; l < std::min(pf_lines, (q + 1) * per); ++l)
    _mm_prefetch(reinterpret_cast<const char*>(pf + l * 64), _MM_HINT_T1);
}

// --- GEMM ---------------------------------------------------------------------------------------
// A 16-column block is two 8-lane halves: R rows x 2 halves of accumulators. fp32: R <= 6 (12
// accumulators, 2 weights, 1 broadcast: 15 of the 16 ymm registers). The unrolling is forced for
// the same reason as in kernels.cpp (GCC 12 -O2 kept such loops rolled, accumulators on the stack).
template <int R>
ASSAY_AVX2 void block_f32(const float* x, int64_t ldx, const float* w, int64_t k, float* acc,
                          const std::byte* pf, int64_t pf_lines, int64_t step0, int64_t per) {
  __m256 c[R][2];
  ASSAY_UNROLL
  for (int r = 0; r < R; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    if (pf != nullptr) prefetch_step(pf, pf_lines, step0 + kk, per);
    const __m256 w0 = _mm256_loadu_ps(w + kk * 16), w1 = _mm256_loadu_ps(w + kk * 16 + 8);
    ASSAY_UNROLL
    for (int r = 0; r < R; ++r) {
      const __m256 xb = _mm256_broadcast_ss(x + r * ldx + kk);
      c[r][0] = _mm256_fmadd_ps(xb, w0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(xb, w1, c[r][1]);
    }
  }
  ASSAY_UNROLL
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(acc + r * kNB * 16, c[r][0]);
    _mm256_storeu_ps(acc + r * kNB * 16 + 8, c[r][1]);
  }
}

template <int MR, int NB>
ASSAY_AVX2 void tile_f32(const void* xv, int64_t ldx, const void* wv, int64_t k, float* acc,
                         const std::byte* pf, int64_t pf_lines) {
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
ASSAY_AVX2 void block_bf16(const float* xf, int64_t ldx, const uint16_t* w, int64_t kp, float* acc,
                           const std::byte* pf, int64_t pf_lines, int64_t step0, int64_t per) {
  __m256 c[R][2];
  ASSAY_UNROLL
  for (int r = 0; r < R; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (int64_t q = 0; q < kp; ++q) {
    if (pf != nullptr) prefetch_step(pf, pf_lines, step0 + q, per);
    const auto* wq = reinterpret_cast<const __m256i*>(w + q * 32);
    const __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256(wq), 16));
    const __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256(wq + 1), 16));
    ASSAY_UNROLL
    for (int r = 0; r < R; ++r) {
      const __m256 xe = _mm256_broadcast_ss(xf + r * ldx + 2 * q);
      c[r][0] = _mm256_fmadd_ps(xe, e0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(xe, e1, c[r][1]);
    }
    // The high halves by two shifts, not a mask: a mask register would push an accumulator
    // onto the stack (GCC 12 spilled four).
    const __m256 o0 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_srli_epi32(_mm256_loadu_si256(wq), 16), 16));
    const __m256 o1 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_srli_epi32(_mm256_loadu_si256(wq + 1), 16), 16));
    ASSAY_UNROLL
    for (int r = 0; r < R; ++r) {
      const __m256 xo = _mm256_broadcast_ss(xf + r * ldx + 2 * q + 1);
      c[r][0] = _mm256_fmadd_ps(xo, o0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(xo, o1, c[r][1]);
    }
  }
  ASSAY_UNROLL
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(acc + r * kNB * 16, c[r][0]);
    _mm256_storeu_ps(acc + r * kNB * 16 + 8, c[r][1]);
  }
}

template <int MR, int NB>
ASSAY_AVX2 void tile_bf16(const void* xv, int64_t ldx, const void* wv, int64_t kp, float* acc,
                          const std::byte* pf, int64_t pf_lines) {
  const int64_t per = (pf_lines + NB * kp - 1) / (NB * kp);
  const int64_t k = 2 * kp;
  thread_local std::vector<float> widened;
  if (widened.size() < static_cast<size_t>(MR * k)) widened.resize(MR * k);
  float* xf = widened.data();
  for (int r = 0; r < MR; ++r) {
    const auto* src =
        reinterpret_cast<const std::byte*>(static_cast<const uint16_t*>(xv) + r * ldx);
    for (int64_t i = 0; i < k; i += 8)
      store8(reinterpret_cast<std::byte*>(xf + r * k + i), Type::kF32,
             load8(src + i * 2, Type::kBF16, k - i), k - i);
  }
  const uint16_t* w = static_cast<const uint16_t*>(wv);
  for (int b = 0; b < NB; ++b)
    block_bf16<MR>(xf, k, w + b * kp * 32, kp, acc + b * 16, pf, pf_lines, b * kp, per);
}

// --- Attention ----------------------------------------------------------------------------------

// q . key over dim lanes.
ASSAY_AVX2 inline float dot(const float* q, const std::byte* key, int64_t dim, Type t, size_t es) {
  __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 16 <= dim; d += 16) {
    a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8(key + d * es, t), a);
    b = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), load8(key + (d + 8) * es, t), b);
  }
  for (; d < dim; d += 8) {
    const int64_t n = std::min<int64_t>(8, dim - d);
    a = _mm256_fmadd_ps(load8(reinterpret_cast<const std::byte*>(q + d), Type::kF32, n),
                        load8(key + d * es, t, n), a);
  }
  return hsum(_mm256_add_ps(a, b));
}

// out[d .. d + 8B) = inv * sum_j p[j] * values[j][d ..] (B blocks of 8 lanes in registers).
template <int B>
ASSAY_AVX2 void weighted_sum(const float* p, const std::byte* values, int64_t lo, int64_t len,
                             int64_t dim, int64_t d, Type t, size_t es, float inv, std::byte* out) {
  __m256 acc[B];
  ASSAY_UNROLL
  for (int b = 0; b < B; ++b) acc[b] = _mm256_setzero_ps();
  for (int64_t j = lo; j < len; ++j) {
    const __m256 w = _mm256_set1_ps(p[j]);
    const std::byte* value = values + (j * dim + d) * es;
    _mm_prefetch(reinterpret_cast<const char*>(value + 8 * dim * es), _MM_HINT_T0);
    ASSAY_UNROLL
    for (int b = 0; b < B; ++b)
      acc[b] = _mm256_fmadd_ps(w, load8(value + b * 8 * es, t, dim - d - b * 8), acc[b]);
  }
  const __m256 scale = _mm256_set1_ps(inv);
  ASSAY_UNROLL
  for (int b = 0; b < B; ++b)
    store8(out + (d + b * 8) * es, t, _mm256_mul_ps(acc[b], scale), dim - d - b * 8);
}

// scores[lo .. len) = exp(scores - max); returns 1 / their sum.
ASSAY_AVX2 float softmax_numerators(float* scores, int64_t lo, int64_t len, float max) {
  __m256 sum = _mm256_setzero_ps();
  const __m256 maxv = _mm256_set1_ps(max);
  int64_t i = lo;
  for (; i + 8 <= len; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + i), maxv));
    _mm256_storeu_ps(scores + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (i < len) {
    auto* tail = reinterpret_cast<std::byte*>(scores + i);
    const int64_t n = len - i;
    __m256 e = exp8(_mm256_sub_ps(load8(tail, Type::kF32, n), maxv));
    alignas(32) float keep[8] = {};
    for (int64_t l = 0; l < n; ++l) keep[l] = 1;
    e = _mm256_mul_ps(e, _mm256_load_ps(keep));  // lanes past len add nothing
    store8(tail, Type::kF32, e, n);
    sum = _mm256_add_ps(sum, e);
  }
  return 1.0f / hsum(sum);
}

}  // namespace

#define ASSAY_TILES(fn)                                                                     \
  {                                                                                         \
    {fn<1, 1>, fn<1, 2>, fn<1, 3>, fn<1, 4>}, {fn<2, 1>, fn<2, 2>, fn<2, 3>, fn<2, 4>},     \
        {fn<3, 1>, fn<3, 2>, fn<3, 3>, fn<3, 4>}, {fn<4, 1>, fn<4, 2>, fn<4, 3>, fn<4, 4>}, \
        {fn<5, 1>, fn<5, 2>, fn<5, 3>, fn<5, 4>}, {                                         \
      fn<6, 1>, fn<6, 2>, fn<6, 3>, fn<6, 4>                                                \
    }                                                                                       \
  }
const TileFn kTilesF32[kMR][kNB] = ASSAY_TILES(tile_f32);
const TileFn kTilesBf16[kMR][kNB] = ASSAY_TILES(tile_bf16);
#undef ASSAY_TILES

void tile_epilogue(const float* acc, int mr, int64_t col0, int64_t n, void* y, int64_t ldy, Type yt,
                   const float* bias, bool accumulate) {
  const size_t es = type_size(yt);
  const int64_t end = std::min(n, col0 + kNB * 16);
  for (int r = 0; r < mr; ++r) {
    auto* dst = static_cast<std::byte*>(y) + r * ldy * es;
    for (int64_t c = col0; c < end; ++c) {
      float v = acc[r * kNB * 16 + (c - col0)] + (bias != nullptr ? bias[c] : 0.0f);
      if (accumulate) {
        if (yt == Type::kBF16) v = round_bf16(v);
        v += get(dst, yt, c);
      }
      put(dst, yt, c, v);
    }
  }
}

ASSAY_AVX2 void rms_norm_rows(const void* x, int64_t ldx, void* out, int64_t ldo, int64_t begin,
                              int64_t end, int64_t n, const void* weight, float eps, Type t) {
  const size_t es = type_size(t);
  const auto* wt = static_cast<const std::byte*>(weight);
  for (int64_t r = begin; r < end; ++r) {
    const std::byte* src = static_cast<const std::byte*>(x) + r * ldx * es;
    std::byte* dst = static_cast<std::byte*>(out) + r * ldo * es;
    __m256 ss = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) {
      const __m256 v = load8(src + i * es, t, n - i);
      ss = _mm256_fmadd_ps(v, v, ss);
    }
    const __m256 s = _mm256_set1_ps(1.0f / std::sqrt(hsum(ss) / static_cast<float>(n) + eps));
    for (int64_t i = 0; i < n; i += 8) {
      __m256 v = _mm256_mul_ps(load8(src + i * es, t, n - i), s);
      if (t == Type::kBF16) v = _mm256_castsi256_ps(_mm256_slli_epi32(bf16_bits(v), 16));
      store8(dst + i * es, t, _mm256_mul_ps(v, load8(wt + i * es, t, n - i)), n - i);
    }
  }
}

ASSAY_AVX2 void silu_mul_rows(const void* gu, int64_t ldg, void* out, int64_t ldo, int64_t begin,
                              int64_t end, int64_t f, Type t) {
  const size_t es = type_size(t);
  for (int64_t r = begin; r < end; ++r) {
    const std::byte* g = static_cast<const std::byte*>(gu) + r * ldg * es;
    std::byte* dst = static_cast<std::byte*>(out) + r * ldo * es;
    for (int64_t i = 0; i < f; i += 8) {
      const __m256 gate = load8(g + i * es, t, f - i), up = load8(g + (f + i) * es, t, f - i);
      const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), gate));
      const __m256 silu = _mm256_div_ps(gate, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
      store8(dst + i * es, t, _mm256_mul_ps(silu, up), f - i);
    }
  }
}

// out[i] = a cos - b sin, out[i + half] = b cos + a sin over one head.
ASSAY_AVX2 void rope_head(const std::byte* src, Type t, const float* cs, const float* sn,
                          int64_t half, void* dst_v, Type dt) {
  auto* dst = static_cast<std::byte*>(dst_v);
  const size_t es = type_size(t), des = type_size(dt);
  for (int64_t i = 0; i < half; i += 8) {
    const int64_t n = std::min<int64_t>(8, half - i);
    const __m256 a = load8(src + i * es, t, n), b = load8(src + (half + i) * es, t, n);
    const __m256 c = load8(reinterpret_cast<const std::byte*>(cs + i), Type::kF32, n);
    const __m256 s = load8(reinterpret_cast<const std::byte*>(sn + i), Type::kF32, n);
    store8(dst + i * des, dt, _mm256_sub_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(b, s)), n);
    store8(dst + (half + i) * des, dt, _mm256_add_ps(_mm256_mul_ps(b, c), _mm256_mul_ps(a, s)), n);
  }
}

ASSAY_AVX2 void attention_items(const Attention& a, int64_t begin, int64_t end, float* scores) {
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
      float max = -INFINITY;
      for (int64_t j = lo; j < len; ++j) {
        const std::byte* key = keys + j * key_bytes;
        _mm_prefetch(reinterpret_cast<const char*>(key + 8 * key_bytes), _MM_HINT_T0);
        scores[j] = dot(q, key, dim, a.type, es) * a.scale;
        max = std::max(max, scores[j]);
      }
      const float inv = softmax_numerators(scores, lo, len, max);
      std::byte* out = static_cast<std::byte*>(a.out) + (r * a.heads + h) * dim * es;
      for (int64_t d = 0; d < dim; d += 32) {
        switch (std::min<int64_t>(4, (dim - d + 7) / 8)) {
          case 1:
            weighted_sum<1>(scores, values, lo, len, dim, d, a.type, es, inv, out);
            break;
          case 2:
            weighted_sum<2>(scores, values, lo, len, dim, d, a.type, es, inv, out);
            break;
          case 3:
            weighted_sum<3>(scores, values, lo, len, dim, d, a.type, es, inv, out);
            break;
          default:
            weighted_sum<4>(scores, values, lo, len, dim, d, a.type, es, inv, out);
            break;
        }
      }
    }
  }
}

}  // namespace assay::inference::kernels::avx2
