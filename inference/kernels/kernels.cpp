// kernels.h's entry points: buffers, weight packing, the GEMM driver and the threading of every
// kernel over torch's intra-op threads. The instruction-set bodies are in kernels_avx512.cpp and
// kernels_avx2.cpp; this file picks one table per call from core/cpu's level (so that
// testing::ScopedCpuLevel reaches them) and holds no intrinsics.
#include "inference/kernels/kernels.h"

#include "inference/kernels/isa.h"

#include "core/cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <ATen/Parallel.h>
#include <sys/mman.h>

namespace assay::inference::kernels {

namespace {

// The AVX-512 bodies where core/cpu reports them (lowered in tests by testing::ScopedCpuLevel),
// else the AVX2 + FMA ones.
const IsaKernels& isa() {
  return cpu::features().avx512 ? avx512::kKernels : avx2::kKernels;
}

}  // namespace

bool has_f32_kernels() {
  return cpu::features().avx2;
}

bool has_bf16_kernels() {  // without AVX512-BF16 the AVX2 tiles widen bf16 to float
  return has_f32_kernels();
}

namespace {

constexpr int64_t kMC = 96;  // GEMM rows per chunk: the x chunk stays in L2 while panels stream

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
  void* raw =
      mmap(nullptr, bytes + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
  const cpu::Features& cpu = cpu::features();
  const TileTable& tiles = bf16 ? (cpu.avx512_bf16 ? avx512::kTilesBf16 : avx2::kTilesBf16)
                                : (cpu.avx512 ? avx512::kTilesF32 : avx2::kTilesF32);
  const auto epilogue = isa().tile_epilogue;
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
          epilogue(acc, mr, p * kNB * 16, w.n, static_cast<std::byte*>(y) + row * ldy * yes, ldy,
                   y_type, bias, accumulate);
        }
      }
    });
  }
}

namespace {

int64_t grain(int64_t work_per_row) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work_per_row));
}

}  // namespace

void rms_norm(const void* x, int64_t ldx, void* out, int64_t ldo, int64_t rows, int64_t n,
              const void* weight, float eps, Type type) {
  const auto body = isa().rms_norm_rows;
  at::parallel_for(0, rows, grain(n), [&](int64_t b, int64_t e) {
    body(x, ldx, out, ldo, b, e, n, weight, eps, type);
  });
}

void silu_mul(const void* gu, int64_t ldg, void* out, int64_t ldo, int64_t rows, int64_t f,
              Type type) {
  const auto body = isa().silu_mul_rows;
  at::parallel_for(0, rows, grain(f),
                   [&](int64_t b, int64_t e) { body(gu, ldg, out, ldo, b, e, f, type); });
}

void attention(const Attention& a, int64_t rows, const RopeStore* rope) {
  const int64_t items = rows * a.kv_heads;
  const int64_t groups = a.heads / a.kv_heads;
  const IsaKernels& k = isa();
  parallel_dynamic(items, std::max<int64_t>(1, items / (8 * at::get_num_threads())),
                   [&](int64_t begin, int64_t end) {
                     // The chunk's own query heads and keys/values first: each row is the only
                     // row of its slot, so no other chunk reads what this one stores.
                     if (rope != nullptr) {
                       for (int64_t item = begin; item < end; ++item) {
                         const int64_t r = item / a.kv_heads, kvh = item % a.kv_heads;
                         k.rope_heads(*rope, r, kvh * groups, (kvh + 1) * groups, kvh, kvh + 1);
                       }
                     }
                     thread_local std::vector<float> scores;  // no allocation per chunk
                     if (scores.size() < static_cast<size_t>(a.capacity) + 16)
                       scores.resize(a.capacity + 16);
                     k.attention_items(a, begin, end, scores.data());
                   });
}

int64_t argmax(const float* x, int64_t n) {
  const auto vector_max = isa().vector_max;
  float max = 0;
  if (vector_max == nullptr || !vector_max(x, n, &max)) return std::max_element(x, x + n) - x;
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
  const auto body = isa().rope_heads;
  at::parallel_for(0, rows, grain((a.heads + 2 * a.kv_heads) * a.dim), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) body(a, r, 0, a.heads, 0, a.kv_heads);
  });
}

}  // namespace assay::inference::kernels
