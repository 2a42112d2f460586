#include "bench/roofline.h"

#include <algorithm>
#include <chrono>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/error.h"

namespace assay::bench {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best rate of `fn` (work units per call) over repeated calls for about `seconds`.
template <typename Fn>
double best_rate(double work, double seconds, Fn&& fn) {
  fn();  // warm up (allocation, packing, thread pool start)
  double best = 0;
  const double end = now_s() + seconds;
  do {
    const double t0 = now_s();
    fn();
    best = std::max(best, work / (now_s() - t0));
  } while (now_s() < end);
  return best;
}

}  // namespace

double measure_gemm_gflops(const std::string& dtype, int n, double seconds) {
  at::ScalarType type;
  if (dtype == "float32" || dtype == "fp32") {
    type = at::kFloat;
  } else if (dtype == "bfloat16" || dtype == "bf16") {
    type = at::kBFloat16;
  } else {
    throw_invalid("measure_gemm_gflops: dtype '" + dtype + "' (float32, bfloat16)");
  }
  c10::InferenceMode guard;
  const at::Tensor a = at::randn({n, n}).to(type), b = at::randn({n, n}).to(type);
  at::Tensor c = at::empty({n, n}, at::TensorOptions().dtype(type));
  return best_rate(2.0 * n * n * n / 1e9, seconds, [&] { at::mm_out(c, a, b); });
}

double measure_memory_gbps(int mib, double seconds) {
  c10::InferenceMode guard;
  const int64_t n = static_cast<int64_t>(mib) * (1 << 20) / 4;
  const at::Tensor src = at::ones({n});
  at::Tensor dst = at::empty({n});
  return best_rate(2.0 * n * 4 / 1e9, seconds, [&] { dst.copy_(src); });
}

}  // namespace assay::bench
