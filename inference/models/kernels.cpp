#include "inference/models/kernels.h"

#include "inference/models/kernels_avx2.h"

#include "core/cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <ATen/Parallel.h>
#include <immintrin.h>
#include <sys/mman.h>

// GCC 12 flags its own intrinsics headers (_mm512_undefined_*, _mm512_reduce_max_ps) as
// (maybe-)uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace assay::inference::kernels {

#define ASSAY_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define ASSAY_UNROLL _Pragma("GCC unroll 16")
#define ASSAY_AVX512BF16 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma,avx512bf16")))

namespace {

// The AVX-512 bodies below run where these hold (core/cpu's probe, lowered in tests by
// testing::ScopedCpuLevel); elsewhere kernels_avx2.cpp's (AVX2 + FMA).
bool has_avx512() {
  return cpu::features().avx512;
}

bool has_avx512_bf16() {
  return cpu::features().avx512_bf16;
}

}  // namespace

bool has_f32_kernels() {
  return cpu::features().avx2;
}

bool has_bf16_kernels() {  // without AVX512-BF16 the AVX2 tiles widen bf16 to float
  return has_f32_kernels();
}

namespace {

ASSAY_AVX512 inline __mmask16 tail_mask(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << count) - 1);
}

ASSAY_AVX512 inline __m512 load16(const void* p, Type t, __mmask16 m) {
  if (t == Type::kF32) return _mm512_maskz_loadu_ps(m, p);
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Rounds float lanes to bf16 (nearest even) and returns them widened back to float.
ASSAY_AVX512 inline __m512i bf16_bits(__m512 v) {
  __m512i b = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  b = _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  return _mm512_srli_epi32(b, 16);
}

ASSAY_AVX512 inline __m512 round_bf16(__m512 v) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(bf16_bits(v), 16));
}

ASSAY_AVX512 inline void store16(void* p, Type t, __m512 v, __mmask16 m) {
  if (t == Type::kF32) {
    _mm512_mask_storeu_ps(p, m, v);
  } else {
    _mm256_mask_storeu_epi16(p, m, _mm512_cvtepi32_epi16(bf16_bits(v)));
  }
}

// exp(x) for float lanes: 2^n * p(r), r = x - n ln2, |r| <= ln2 / 2, degree-6 Taylor polynomial
// (relative error ~2e-7); scalef handles under- and overflow.
ASSAY_AVX512 inline __m512 exp16(__m512 x) {
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

// --- GEMM tiles: MR rows x NB column blocks of 16, accumulators in registers -------------------
// The register tile only exists when the r/b loops are fully unrolled: GCC 12 at -O2 kept them as
// loops with the accumulators on the stack (a load and a store around every vdpbf16ps; perf:
// 74% of a batch-32 run in that store), so the unrolling is forced (ASSAY_UNROLL).
constexpr int64_t kMC = 96;  // rows per chunk: the x chunk stays in L2 while panels stream

// A tile (TileFn, kernels_avx2.h) also prefetches `pf_lines` cache lines from `pf` (a slice of
// the next panel's weights) into L2, spread over its k loop, so the next panel's DRAM reads
// overlap this one's arithmetic.

// Prefetches lines [q * per, (q + 1) * per) of pf (clamped to pf_lines).
ASSAY_AVX512 inline void prefetch_slice(const std::byte* pf, int64_t pf_lines, int64_t q,
                                        int64_t per) {
  for (int64_t l = q * per; l < std::min(pf_lines, (q + 1) * per); ++l)
    _mm_prefetch(reinterpret_cast<const char*>(pf + l * 64), _MM_HINT_T1);
}

template <int MR, int NB>
ASSAY_AVX512 void tile_f32(const void* xv, int64_t ldx, const void* wv, int64_t k, float* acc,
                           const std::byte* pf, int64_t pf_lines) {
  const int64_t per = (pf_lines + k - 1) / k;
  const float* x = static_cast<const float*>(xv);
  const float* w = static_cast<const float*>(wv);
  __m512 c[MR][NB];
  ASSAY_UNROLL
  for (int r = 0; r < MR; ++r)
    ASSAY_UNROLL
    for (int b = 0; b < NB; ++b) c[r][b] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    if (pf != nullptr) prefetch_slice(pf, pf_lines, kk, per);
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
  ASSAY_UNROLL
  for (int r = 0; r < MR; ++r)
    ASSAY_UNROLL
    for (int b = 0; b < NB; ++b) _mm512_storeu_ps(acc + (r * kNB + b) * 16, c[r][b]);
}

template <int MR, int NB>
ASSAY_AVX512BF16 void tile_bf16(const void* xv, int64_t ldx, const void* wv, int64_t kp, float* acc,
                                const std::byte* pf, int64_t pf_lines) {
  const int64_t per = (pf_lines + kp - 1) / kp;
  const uint16_t* x = static_cast<const uint16_t*>(xv);
  const uint16_t* w = static_cast<const uint16_t*>(wv);
  __m512 c[MR][NB];
  ASSAY_UNROLL
  for (int r = 0; r < MR; ++r)
    ASSAY_UNROLL
    for (int b = 0; b < NB; ++b) c[r][b] = _mm512_setzero_ps();
  for (int64_t q = 0; q < kp; ++q) {
    if (pf != nullptr) prefetch_slice(pf, pf_lines, q, per);
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
  ASSAY_UNROLL
  for (int r = 0; r < MR; ++r)
    ASSAY_UNROLL
    for (int b = 0; b < NB; ++b) _mm512_storeu_ps(acc + (r * kNB + b) * 16, c[r][b]);
}

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

// Adds bias, rounds, accumulates into and stores one tile's results.
ASSAY_AVX512 void tile_epilogue(const float* acc, int mr, int64_t col0, int64_t n, void* y,
                                int64_t ldy, Type yt, const float* bias, bool accumulate) {
  const size_t es = type_size(yt);
  for (int64_t c = col0; c < std::min(n, col0 + kNB * 16); c += 16) {
    const __mmask16 m = tail_mask(n - c);
    const __m512 b = bias != nullptr ? _mm512_maskz_loadu_ps(m, bias + c) : _mm512_setzero_ps();
    for (int r = 0; r < mr; ++r) {
      __m512 v = _mm512_add_ps(_mm512_loadu_ps(acc + (r * kNB + (c - col0) / 16) * 16), b);
      std::byte* dst = static_cast<std::byte*>(y) + (r * ldy + c) * es;
      if (accumulate) {
        if (yt == Type::kBF16) v = round_bf16(v);
        v = _mm512_add_ps(v, load16(dst, yt, m));
      }
      store16(dst, yt, v, m);
    }
  }
}

// Runs body(begin, end) over [0, n) in chunks of `chunk`, handed out dynamically to torch's
// intra-op threads: a thread slowed by the VM's neighbours or by a longer slot no longer makes the
// other wait at the barrier (at::parallel_for splits statically; perf: ~9% of a batch-32 decode in
// libgomp's barrier spin). Which thread computes a chunk never changes its arithmetic.
template <typename F>
void parallel_dynamic(int64_t n, int64_t chunk, const F& body) {
  const int64_t chunks = (n + chunk - 1) / chunk;
  const int threads = at::get_num_threads();
  if (threads <= 1 || chunks <= 1 || at::in_parallel_region()) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t c = 0; c < chunks; ++c) body(c * chunk, std::min(n, (c + 1) * chunk));
}

}  // namespace

void BufferFree::operator()(std::byte* p) const noexcept {
  if (mapped != 0) {
    munmap(p, mapped);
  } else {
    std::free(p);
  }
}

Buffer alloc_zeroed(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  if (bytes < kHuge) {
    bytes = std::max<size_t>(64, (bytes + 63) / 64 * 64);
    auto* p = static_cast<std::byte*>(std::aligned_alloc(64, bytes));
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return Buffer(p, BufferFree{0});
  }
  bytes = (bytes + kHuge - 1) / kHuge * kHuge;
  // Map one huge page more than needed and trim both ends to a 2 MiB boundary.
  void* raw = mmap(nullptr, bytes + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHuge - 1) / kHuge * kHuge;
  if (aligned > start) munmap(raw, aligned - start);
  if (const size_t tail = start + kHuge - aligned; tail > 0)
    munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  auto* p = reinterpret_cast<std::byte*>(aligned);
  madvise(p, bytes, MADV_HUGEPAGE);  // a hint: fewer faults, fewer TLB misses on streams
  return Buffer(p, BufferFree{bytes});
}

PackedWeight pack_weight(const float* w, int64_t n, int64_t k, Type type) {
  PackedWeight p;
  p.n = n;
  p.k = k;
  p.type = type;
  const int64_t blocks = (n + 15) / 16;
  p.data = alloc_zeroed(static_cast<size_t>(blocks * 16 * k) * type_size(type));
  if (type == Type::kF32) {
    float* dst = reinterpret_cast<float*>(p.data.get());
    for (int64_t j = 0; j < blocks; ++j)
      for (int64_t c = 0; c < 16 && j * 16 + c < n; ++c)
        for (int64_t kk = 0; kk < k; ++kk) dst[(j * k + kk) * 16 + c] = w[(j * 16 + c) * k + kk];
  } else {
    const int64_t kp = k / 2;
    uint16_t* dst = reinterpret_cast<uint16_t*>(p.data.get());
    for (int64_t j = 0; j < blocks; ++j)
      for (int64_t c = 0; c < 16 && j * 16 + c < n; ++c)
        for (int64_t q = 0; q < kp; ++q)
          for (int e = 0; e < 2; ++e)
            dst[((j * kp + q) * 16 + c) * 2 + e] = to_bf16(w[(j * 16 + c) * k + 2 * q + e]);
  }
  return p;
}

void linear(const PackedWeight& w, const void* x, int64_t m, int64_t ldx, void* y, int64_t ldy,
            Type y_type, const float* bias, bool accumulate) {
  const int64_t blocks = (w.n + 15) / 16;
  const int64_t panels = (blocks + kNB - 1) / kNB;
  const bool bf16 = w.type == Type::kBF16;
  const int64_t depth = bf16 ? w.k / 2 : w.k;  // k steps of a tile
  const int64_t block_elems = 16 * w.k;        // packed elements per column block
  const size_t wes = type_size(w.type), yes = type_size(y_type);
  const auto& tiles = bf16 ? (has_avx512_bf16() ? kTilesBf16 : avx2::kTilesBf16)
                           : (has_avx512() ? kTilesF32 : avx2::kTilesF32);
  const auto epilogue = has_avx512() ? tile_epilogue : avx2::tile_epilogue;
  for (int64_t m0 = 0; m0 < m; m0 += kMC) {
    const int64_t mc = std::min(kMC, m - m0);
    const int64_t per_chunk = std::max<int64_t>(1, panels / (4 * at::get_num_threads()));
    parallel_dynamic(panels, per_chunk, [&](int64_t begin, int64_t end) {
      alignas(64) float acc[kMR * kNB * 16];
      const int64_t n_tiles = (mc + kMR - 1) / kMR;
      for (int64_t p = begin; p < end; ++p) {
        const int nb = static_cast<int>(std::min<int64_t>(kNB, blocks - p * kNB));
        const std::byte* wp = w.data.get() + p * kNB * block_elems * wes;
        // The next panel of this thread, prefetched in slices by this panel's tiles.
        const std::byte* next = p + 1 < end ? wp + kNB * block_elems * wes : nullptr;
        const int64_t next_lines =
            next != nullptr
                ? std::min<int64_t>(kNB, blocks - (p + 1) * kNB) * block_elems * wes / 64
                : 0;
        const int64_t slice = (next_lines + n_tiles - 1) / n_tiles;
        for (int64_t r = 0; r < mc; r += kMR) {
          const int mr = static_cast<int>(std::min<int64_t>(kMR, mc - r));
          const int64_t row = m0 + r;
          const int64_t first = r / kMR * slice;
          const std::byte* pf = next != nullptr && first < next_lines ? next + first * 64 : nullptr;
          tiles[mr - 1][nb - 1](static_cast<const std::byte*>(x) + row * ldx * wes, ldx, wp, depth,
                                acc, pf, std::min(slice, next_lines - first));
          epilogue(acc, mr, p * kNB * 16, w.n, static_cast<std::byte*>(y) + row * ldy * yes,
                        ldy, y_type, bias, accumulate);
        }
      }
    });
  }
}

namespace {

ASSAY_AVX512 void rms_norm_rows(const void* x, int64_t ldx, void* out, int64_t ldo, int64_t begin,
                                int64_t end, int64_t n, const void* weight, float eps, Type t) {
  const size_t es = type_size(t);
  for (int64_t r = begin; r < end; ++r) {
    const std::byte* src = static_cast<const std::byte*>(x) + r * ldx * es;
    std::byte* dst = static_cast<std::byte*>(out) + r * ldo * es;
    __m512 ss = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
      const __m512 v = load16(src + i * es, t, tail_mask(n - i));
      ss = _mm512_fmadd_ps(v, v, ss);
    }
    const float scale = 1.0f / std::sqrt(_mm512_reduce_add_ps(ss) / static_cast<float>(n) + eps);
    const __m512 s = _mm512_set1_ps(scale);
    for (int64_t i = 0; i < n; i += 16) {
      const __mmask16 m = tail_mask(n - i);
      __m512 v = _mm512_mul_ps(load16(src + i * es, t, m), s);
      if (t == Type::kBF16) v = round_bf16(v);
      v = _mm512_mul_ps(v, load16(static_cast<const std::byte*>(weight) + i * es, t, m));
      store16(dst + i * es, t, v, m);
    }
  }
}

ASSAY_AVX512 void silu_mul_rows(const void* gu, int64_t ldg, void* out, int64_t ldo, int64_t begin,
                                int64_t end, int64_t f, Type t) {
  const size_t es = type_size(t);
  for (int64_t r = begin; r < end; ++r) {
    const std::byte* g = static_cast<const std::byte*>(gu) + r * ldg * es;
    std::byte* dst = static_cast<std::byte*>(out) + r * ldo * es;
    for (int64_t i = 0; i < f; i += 16) {
      const __mmask16 m = tail_mask(f - i);
      const __m512 gate = load16(g + i * es, t, m);
      const __m512 up = load16(g + (f + i) * es, t, m);
      const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), gate));
      const __m512 silu = _mm512_div_ps(gate, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
      store16(dst + i * es, t, _mm512_mul_ps(silu, up), m);
    }
  }
}

// out[i] = a cos - b sin, out[i + half] = b cos + a sin over one head.
ASSAY_AVX512 inline void rope_head(const std::byte* src, Type t, const float* cs, const float* sn,
                                   int64_t half, void* dst, Type dt) {
  const size_t es = type_size(t), des = type_size(dt);
  for (int64_t i = 0; i < half; i += 16) {
    const __mmask16 m = tail_mask(half - i);
    const __m512 a = load16(src + i * es, t, m), b = load16(src + (half + i) * es, t, m);
    const __m512 c = _mm512_maskz_loadu_ps(m, cs + i), s = _mm512_maskz_loadu_ps(m, sn + i);
    store16(static_cast<std::byte*>(dst) + i * des, dt,
            _mm512_sub_ps(_mm512_mul_ps(a, c), _mm512_mul_ps(b, s)), m);
    store16(static_cast<std::byte*>(dst) + (half + i) * des, dt,
            _mm512_add_ps(_mm512_mul_ps(b, c), _mm512_mul_ps(a, s)), m);
  }
}

// Sums of four vectors' lanes: {sum a, sum b, sum c, sum d}.
ASSAY_AVX512 inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  const __m512 x = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm_add_ps(_mm_add_ps(_mm512_extractf32x4_ps(x, 0), _mm512_extractf32x4_ps(x, 1)),
                    _mm_add_ps(_mm512_extractf32x4_ps(x, 2), _mm512_extractf32x4_ps(x, 3)));
}

// q . key over `dim` lanes, into a vector of partial sums.
ASSAY_AVX512 inline __m512 dot_partial(const float* q, const std::byte* key, int64_t dim, Type t,
                                       size_t es) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t d = 0; d < dim; d += 16) {
    const __mmask16 m = tail_mask(dim - d);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + d), load16(key + d * es, t, m), acc);
  }
  return acc;
}

// out[0 .. B*16) = sum_j p[j] * values[j] for B blocks of 16 lanes (registers, no spills).
template <int B>
ASSAY_AVX512 inline void weighted_sum(const float* p, const std::byte* values, int64_t lo,
                                      int64_t len, int64_t dim, int64_t d, Type t, size_t es,
                                      float inv, std::byte* out) {
  __m512 acc[B];
  ASSAY_UNROLL
  for (int b = 0; b < B; ++b) acc[b] = _mm512_setzero_ps();
  for (int64_t j = lo; j < len; ++j) {
    const __m512 w = _mm512_set1_ps(p[j]);
    const std::byte* value = values + (j * dim + d) * es;
    _mm_prefetch(reinterpret_cast<const char*>(value + 8 * dim * es), _MM_HINT_T0);
    ASSAY_UNROLL
    for (int b = 0; b < B; ++b)
      acc[b] =
          _mm512_fmadd_ps(w, load16(value + b * 16 * es, t, tail_mask(dim - d - b * 16)), acc[b]);
  }
  const __m512 scale = _mm512_set1_ps(inv);
  ASSAY_UNROLL
  for (int b = 0; b < B; ++b)
    store16(out + (d + b * 16) * es, t, _mm512_mul_ps(acc[b], scale), tail_mask(dim - d - b * 16));
}

// The largest of four lanes.
ASSAY_AVX512 inline float max_of4(__m128 v) {
  alignas(16) float m4[4];
  _mm_store_ps(m4, v);
  return std::max(std::max(m4[0], m4[1]), std::max(m4[2], m4[3]));
}

// scores[lo .. len) = exp(scores - max), 16 at a time; returns 1 / their sum.
ASSAY_AVX512 inline float softmax_numerators(float* scores, int64_t lo, int64_t len, float max) {
  __m512 sum16 = _mm512_setzero_ps();
  const __m512 maxv = _mm512_set1_ps(max);
  for (int64_t i = lo; i < len; i += 16) {
    const __mmask16 m = tail_mask(len - i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + i), maxv));
    _mm512_mask_storeu_ps(scores + i, m, e);
    sum16 = _mm512_add_ps(sum16, _mm512_maskz_mov_ps(m, e));
  }
  return 1.0f / _mm512_reduce_add_ps(sum16);
}

ASSAY_AVX512 void attention_items(const Attention& a, int64_t begin, int64_t end, float* scores) {
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
        const __m128 s = _mm_mul_ps(reduce4(dot_partial(q, key, dim, a.type, es),
                                            dot_partial(q, key + key_bytes, dim, a.type, es),
                                            dot_partial(q, key + 2 * key_bytes, dim, a.type, es),
                                            dot_partial(q, key + 3 * key_bytes, dim, a.type, es)),
                                    _mm_set1_ps(a.scale));
        _mm_storeu_ps(scores + j, s);
        max4 = _mm_max_ps(max4, s);
      }
      float max = max_of4(max4);
      for (; j < len; ++j) {
        scores[j] =
            _mm512_reduce_add_ps(dot_partial(q, keys + j * key_bytes, dim, a.type, es)) * a.scale;
        max = std::max(max, scores[j]);
      }
      const float inv = softmax_numerators(scores, lo, len, max);
      std::byte* out = static_cast<std::byte*>(a.out) + (r * a.heads + h) * dim * es;
      for (int64_t d = 0; d < dim; d += 64) {
        switch (std::min<int64_t>(4, (dim - d + 15) / 16)) {
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

// bf16 attention for head dims of C * 32 (C <= 4): 32 bf16 lanes are one 64-byte load, split
// into their even and odd elements as float (a shift and a mask), so q·k and the value sums run in
// float on half the loads and conversions of load16; results as attention_items (float
// accumulation, one rounding to bf16 at the end) up to the order of the additions.
ASSAY_AVX512 inline __m512 bf16_even(__m512i v) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}
ASSAY_AVX512 inline __m512 bf16_odd(__m512i v) {
  return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000))));
}

template <int C>
ASSAY_AVX512 inline __m512 dot_bf16(const __m512* qe, const __m512* qo, const std::byte* key) {
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
ASSAY_AVX512 void attention_items_bf16(const Attention& a, int64_t begin, int64_t end,
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
      const __m512i even_idx = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                                4, 2, 0);
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
          _mm_prefetch(reinterpret_cast<const char*>(values + (j + kPrefetchKeys) * key_bytes +
                                                     l * 64),
                       _MM_HINT_T1);
        }
        const __m128 s4 = reduce4(dot_bf16<C>(qe, qo, key), dot_bf16<C>(qe, qo, key + key_bytes),
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
      const __m512 inv = _mm512_set1_ps(softmax_numerators(scores, lo, len, max));
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
        const __m512i e = bf16_bits(_mm512_mul_ps(ae[c], inv));
        const __m512i o = bf16_bits(_mm512_mul_ps(ao[c], inv));
        _mm512_storeu_si512(out + c * 64, _mm512_or_si512(e, _mm512_slli_epi32(o, 16)));
      }
    }
  }
}

int64_t grain(int64_t work_per_row) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work_per_row));
}

}  // namespace

void rms_norm(const void* x, int64_t ldx, void* out, int64_t ldo, int64_t rows, int64_t n,
              const void* weight, float eps, Type type) {
  const auto body = has_avx512() ? rms_norm_rows : avx2::rms_norm_rows;
  at::parallel_for(0, rows, grain(n), [&](int64_t b, int64_t e) {
    body(x, ldx, out, ldo, b, e, n, weight, eps, type);
  });
}

void silu_mul(const void* gu, int64_t ldg, void* out, int64_t ldo, int64_t rows, int64_t f,
              Type type) {
  const auto body = has_avx512() ? silu_mul_rows : avx2::silu_mul_rows;
  at::parallel_for(0, rows, grain(f),
                   [&](int64_t b, int64_t e) { body(gu, ldg, out, ldo, b, e, f, type); });
}

void attention(const Attention& a, int64_t rows, const RopeStore* rope) {
  const int64_t items = rows * a.kv_heads;
  const int64_t groups = a.heads / a.kv_heads;
  const bool avx512 = has_avx512();
  const auto rope_body = avx512 ? rope_heads<rope_head> : rope_heads<avx2::rope_head>;
  parallel_dynamic(items, std::max<int64_t>(1, items / (8 * at::get_num_threads())),
                   [&](int64_t begin, int64_t end) {
                     // The chunk's own query heads and keys/values first: each row is the only
                     // row of its slot, so no other chunk reads what this one stores.
                     if (rope != nullptr) {
                       for (int64_t item = begin; item < end; ++item) {
                         const int64_t r = item / a.kv_heads, kvh = item % a.kv_heads;
                         rope_body(*rope, r, kvh * groups, (kvh + 1) * groups, kvh, kvh + 1);
                       }
                     }
                     thread_local std::vector<float> scores;  // no allocation per chunk
                     if (scores.size() < static_cast<size_t>(a.capacity) + 16)
                       scores.resize(a.capacity + 16);
                     float* sc = scores.data();
                     if (!avx512) {
                       avx2::attention_items(a, begin, end, sc);
                     } else if (a.type != Type::kBF16 || a.dim % 32 != 0 || a.dim > 128) {
                       attention_items(a, begin, end, sc);
                     } else if (a.dim == 32) {
                       attention_items_bf16<1>(a, begin, end, sc);
                     } else if (a.dim == 64) {
                       attention_items_bf16<2>(a, begin, end, sc);
                     } else if (a.dim == 96) {
                       attention_items_bf16<3>(a, begin, end, sc);
                     } else {
                       attention_items_bf16<4>(a, begin, end, sc);
                     }
                   });
}

namespace {

// Max of x[0 .. n) in float lanes, and whether all of it is ordered (no NaN).
ASSAY_AVX512 bool vector_max(const float* x, int64_t n, float* out) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  __mmask16 unordered = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, x + i);
    unordered |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = _mm512_max_ps(m, v);
  }
  *out = _mm512_reduce_max_ps(m);
  return unordered == 0;
}

}  // namespace

int64_t argmax(const float* x, int64_t n) {
  float max = 0;
  if (!has_avx512() || !vector_max(x, n, &max)) return std::max_element(x, x + n) - x;
  int64_t i = 0;
  while (x[i] != max) ++i;  // the first occurrence, as std::max_element
  return i;
}

void rope_tables(const int64_t* pos, int64_t rows, const float* inv_freq, int64_t half,
                 float* cos_tab, float* sin_tab) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < half; ++i) {
      const float angle = static_cast<float>(pos[r]) * inv_freq[i];
      cos_tab[r * half + i] = std::cos(angle);
      sin_tab[r * half + i] = std::sin(angle);
    }
  }
}

void rope_store(const RopeStore& a, int64_t rows) {
  const auto body = has_avx512() ? rope_heads<rope_head> : rope_heads<avx2::rope_head>;
  at::parallel_for(0, rows, grain((a.heads + 2 * a.kv_heads) * a.dim), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) body(a, r, 0, a.heads, 0, a.kv_heads);
  });
}

}  // namespace assay::inference::kernels
