// The decode step of bench_generate's ≈110M Llama, kernel by kernel: the GEMMs of all 12 layers
// (distinct weights, so they stream from memory as in a real step) plus the LM head, and
// attention over a KV cache of the given batch and context, without the generator around them.
// Prints a table: ms per step, GFLOP/s (GEMMs), GB/s (bytes of weights or KV read).
//
// Usage: bench_kernels [--batch N] [--context C] [--dtype fp32|bf16] [--steps S]
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "inference/kernels/kernels.h"

namespace k = assay::inference::kernels;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = (static_cast<float>(seed >> 8) / 16777216.0f - 0.5f) * 0.1f;
  }
  return v;
}

struct Shape {
  const char* name;
  int64_t n, k;
};

}  // namespace

int main(int argc, char** argv) {
  // ATen sizes its OpenMP pool from the physical cores cpuinfo reports (one on this VM's two
  // vCPUs); Engine::load sets it from the CPUs this process may use, so do the same here.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
      setenv("OMP_NUM_THREADS", std::to_string(CPU_COUNT(&set)).c_str(), 1);
  }
  int64_t batch = 32, context = 192, steps = 20;
  k::Type type = k::Type::kBF16;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--batch") {
      batch = std::atoll(next());
    } else if (a == "--context") {
      context = std::atoll(next());
    } else if (a == "--steps") {
      steps = std::atoll(next());
    } else if (a == "--dtype") {
      const std::string d = next();
      if (d != "fp32" && d != "bf16") {
        std::fprintf(stderr, "--dtype must be fp32 or bf16\n");
        return 2;
      }
      type = d == "fp32" ? k::Type::kF32 : k::Type::kBF16;
    } else {
      std::fprintf(stderr,
                   "usage: bench_kernels [--batch N] [--context C] [--dtype fp32|bf16] "
                   "[--steps S]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (batch < 1 || context < 1 || steps < 1) {
    std::fprintf(stderr, "--batch, --context and --steps must be >= 1\n");
    return 2;
  }
  if (type == k::Type::kBF16 ? !k::has_bf16_kernels() : !k::has_f32_kernels()) {
    std::fprintf(stderr,
                 "this CPU has neither the AVX-512 nor the AVX2 kernels: nothing to measure\n");
    return 77;  // the conventional "skipped" status (the ctest smoke run reports it as skipped)
  }
  constexpr int64_t kLayers = 12, kHidden = 768, kFfn = 2048, kHeads = 12, kDim = 64,
                    kVocab = 32000;
  const size_t es = type == k::Type::kF32 ? 4 : 2;
  const Shape shapes[] = {{"qkv", 3 * kHidden, kHidden},
                          {"o", kHidden, kHidden},
                          {"gate_up", 2 * kFfn, kHidden},
                          {"down", kHidden, kFfn}};
  std::vector<std::vector<k::PackedWeight>> layers(kLayers);
  for (int64_t l = 0; l < kLayers; ++l)
    for (const Shape& s : shapes)
      layers[l].push_back(k::pack_weight(random_floats(s.n * s.k, 7 + l).data(), s.n, s.k, type));
  const k::PackedWeight head =
      k::pack_weight(random_floats(kVocab * kHidden, 3).data(), kVocab, kHidden, type);

  // Activations: one buffer wide enough for any GEMM's input and output.
  const int64_t width = std::max<int64_t>(2 * kFfn, kVocab);
  const k::Buffer x_buf = k::alloc_zeroed(batch * width * 4);
  const k::Buffer y_buf = k::alloc_zeroed(batch * width * 4);
  std::byte* x = x_buf.get();
  std::byte* y = y_buf.get();

  // KV cache [batch, heads, capacity, dim] per layer, filled with small values.
  const int64_t capacity = context + 1;
  const size_t kv_elems = static_cast<size_t>(batch * kHeads * capacity * kDim);
  std::vector<k::Buffer> kc_buf, vc_buf;
  std::vector<std::byte*> kc(kLayers), vc(kLayers);
  const std::vector<float> fill = random_floats(kv_elems, 5);
  for (int64_t l = 0; l < kLayers; ++l) {
    kc[l] = kc_buf.emplace_back(k::alloc_zeroed(kv_elems * es)).get();
    vc[l] = vc_buf.emplace_back(k::alloc_zeroed(kv_elems * es)).get();
    if (type == k::Type::kF32) {
      std::memcpy(kc[l], fill.data(), kv_elems * 4);
      std::memcpy(vc[l], fill.data(), kv_elems * 4);
    }
  }
  std::vector<float> q = random_floats(batch * kHeads * kDim, 9);
  std::vector<int64_t> slot(batch), len(batch, context);
  for (int64_t b = 0; b < batch; ++b) slot[b] = b;

  // Per-step times; the table shows medians (the VM's neighbours make means jumpy).
  std::vector<double> gemm_t, head_t, attn_t;
  for (int64_t s = -2; s < steps; ++s) {  // two warm-up steps
    double g = 0, a = 0;
    for (int64_t l = 0; l < kLayers; ++l) {
      const double t1 = now();
      const k::Attention att{q.data(), y,       kc[l], vc[l], slot.data(),
                             len.data(), kHeads, kHeads, kDim, capacity,
                             0,          0.125f, type};
      k::attention(att, batch);
      const double t2 = now();
      a += t2 - t1;
      for (size_t w = 0; w < 4; ++w)
        k::linear(layers[l][w], x, batch, layers[l][w].k, y, layers[l][w].n, type, nullptr,
                  false);
      g += now() - t2;
    }
    const double t3 = now();
    k::linear(head, x, batch, kHidden, y, kVocab, k::Type::kF32, nullptr, false);
    const double h = now() - t3;
    if (s >= 0) {
      gemm_t.push_back(g);
      attn_t.push_back(a);
      head_t.push_back(h);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double n = 1.0;  // the figures below are of one (median) step
  const double gemm_s = median(gemm_t), head_s = median(head_t), attn_s = median(attn_t);
  const double layer_flops = 2.0 * batch * kLayers *
                             (3 * kHidden * kHidden + kHidden * kHidden + 2 * kFfn * kHidden +
                              kHidden * kFfn);
  const double layer_bytes = static_cast<double>(es) * kLayers *
                             (3 * kHidden * kHidden + kHidden * kHidden + 3 * kFfn * kHidden);
  const double head_flops = 2.0 * batch * kVocab * kHidden;
  const double head_bytes = static_cast<double>(es) * kVocab * kHidden;
  const double kv_bytes = 2.0 * kLayers * batch * kHeads * context * kDim * es;
  std::printf("decode step of the ≈110M Llama, batch %lld, context %lld, %s, median of %lld steps\n",
              static_cast<long long>(batch), static_cast<long long>(context),
              type == k::Type::kF32 ? "fp32" : "bf16", static_cast<long long>(steps));
  std::printf("| part | ms/step | GFLOP/s | GB/s read |\n|---|---|---|---|\n");
  std::printf("| layer GEMMs (48) | %.2f | %.0f | %.1f |\n", 1e3 * gemm_s / n,
              layer_flops * n / gemm_s / 1e9, layer_bytes * n / gemm_s / 1e9);
  std::printf("| LM head | %.2f | %.0f | %.1f |\n", 1e3 * head_s / n, head_flops * n / head_s / 1e9,
              head_bytes * n / head_s / 1e9);
  std::printf("| attention (12 layers) | %.2f | - | %.1f |\n", 1e3 * attn_s / n,
              kv_bytes * n / attn_s / 1e9);
  const double total = (gemm_s + head_s + attn_s) / n;
  std::printf("| total | %.2f | - | - |\n", 1e3 * total);
  std::printf("tokens/s if the step were only these: %.0f\n", batch / total);
  return 0;
}
