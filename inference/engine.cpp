#include "inference/engine.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include <sched.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include "core/error.h"
#include "core/log.h"
#include "inference/lora.h"
#include "inference/models/transformer.h"
#include "inference/torch_guard.h"

namespace assay::inference {
namespace fs = std::filesystem;

struct Engine::Impl {
  ModelFiles files;
  ModelConfig config;
  std::unique_ptr<models::Transformer> model;
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;
const ModelConfig& Engine::config() const {
  return impl_->config;
}
const ModelFiles& Engine::files() const {
  return impl_->files;
}
models::Transformer& Engine::transformer() {
  return *impl_->model;
}

namespace {

at::Device parse_device(const std::string& device) {
  if (device == "cpu") return at::kCPU;
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
#ifdef ASSAY_WITH_CUDA
    if (!at::hasCUDA()) throw_invalid("device '" + device + "': no CUDA device is available");
    int index = device == "cuda" ? 0 : std::stoi(device.substr(5));
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
#else
    throw_invalid("device '" + device +
                  "': this build of Assay has no CUDA support (ASSAY_WITH_CUDA=OFF)");
#endif
  }
  throw_invalid("device '" + device + "' is not supported (cpu, cuda, cuda:N)");
}

at::ScalarType parse_dtype(const std::string& dtype, const at::Device& device) {
  if (dtype == "float32" || dtype == "fp32") return at::kFloat;
  if (dtype == "bfloat16" || dtype == "bf16") return at::kBFloat16;
  if (dtype == "auto") return device.is_cuda() ? at::kBFloat16 : at::kFloat;
  throw_invalid("dtype '" + dtype + "' is not supported (float32, bfloat16, auto)");
}

// at::set_num_threads sizes libtorch's thread pool from cpuinfo, which reads /proc/cpuinfo; in a
// container or chroot without /proc it fails with only "cpuinfo initialization failed".
void set_torch_threads(int threads) {
  try {
    at::set_num_threads(threads);
  } catch (const c10::Error& e) {
    std::error_code ec;
    if (!fs::exists("/proc/cpuinfo", ec)) {
      throw_io(std::string("libtorch cannot read this machine's CPUs: /proc/cpuinfo does not "
                           "exist (is /proc mounted? A container or chroot needs /proc, /sys and "
                           "/dev); libtorch said: ") +
               e.what_without_backtrace());
    }
    throw_internal("setting libtorch's thread count to " + std::to_string(threads) +
                   ": libtorch failed: " + e.what_without_backtrace());
  }
}

}  // namespace

std::unique_ptr<Engine> Engine::load(const fs::path& model, const EngineOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->files = resolve_model_files(model, options.base_model);
  impl->config = load_model_config(impl->files.weights_dir);
  WeightSet weights = WeightSet::open(impl->files.weights_dir);
  check_weights(impl->config, weights, (impl->files.weights_dir / "config.json").string());
  check_finite(weights);
  std::unique_ptr<LoraAdapter> lora;
  if (!impl->files.adapter_dir.empty()) {
    lora = std::make_unique<LoraAdapter>(load_lora_adapter(impl->files.adapter_dir));
    check_lora_against(*lora, weights);
    check_finite(lora->weights);
  }
  const at::Device device = parse_device(options.device);
  models::TransformerOptions topts;
  topts.device = device;
  topts.dtype = parse_dtype(options.dtype, device);
  if (device.is_cpu()) {
    // Below ~10M parameters each op is too small to split: extra threads only wait on each other
    // (stories260K on a loaded 2-core machine: 70 tokens took 8.0 s with 2 threads, 2.9 s with 1).
    int64_t params = 0;
    for (const WeightSpec& spec : expected_weights(impl->config)) {
      int64_t n = 1;
      for (int64_t d : spec.shape) n *= d;
      params += n;
    }
    // Available cores: the affinity mask (a container's cpuset), else the hardware count.
    int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) == 0) hardware = std::max(1, CPU_COUNT(&mask));
#ifdef __GLIBC__
    // Keep freed activation buffers in the heap instead of returning them to the kernel: every
    // forward allocates the same large tensors, and re-faulting their pages cost 20-40% of the
    // batched decode/prefill time here (bench_generate, batch 32 bf16, paired runs).
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
#endif
    const int threads =
        options.threads > 0 ? options.threads : (params < 10'000'000 ? 1 : hardware);
    set_torch_threads(threads);
  }
  guard_torch("loading " + model.string(), [&] {
    c10::InferenceMode guard;
    impl->model = std::make_unique<models::Transformer>(impl->config, weights, lora.get(), topts);
    return 0;
  });
  log::debug("model loaded", {{"model", model.string()},
                              {"architecture", impl->config.architecture},
                              {"lora", !impl->files.adapter_dir.empty()}});
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

namespace {

std::vector<int32_t> with_bos(std::span<const int32_t> prompt, const ModelConfig& config) {
  if (!prompt.empty()) return {prompt.begin(), prompt.end()};
  if (!config.bos_token_id)
    throw_invalid("empty prompt: the model has no bos_token_id to start from");
  return {*config.bos_token_id};
}

at::Tensor to_tensor(std::span<const int32_t> ids) {
  std::vector<int64_t> wide(ids.begin(), ids.end());
  return at::tensor(wide, at::TensorOptions().dtype(at::kLong))
      .view({1, static_cast<int64_t>(wide.size())});
}

void check_length(int64_t total, const ModelConfig& config) {
  if (total > config.max_position_embeddings) {
    throw_invalid("prompt + new tokens = " + std::to_string(total) +
                  " positions exceed max_position_embeddings (" +
                  std::to_string(config.max_position_embeddings) + ")");
  }
}

}  // namespace

std::vector<int32_t> Engine::generate(std::span<const int32_t> prompt_in,
                                      const GenerateOptions& options) {
  const ModelConfig& config = impl_->config;
  const std::vector<int32_t> prompt = with_bos(prompt_in, config);
  if (options.max_new_tokens <= 0) return {};
  if (!options.greedy && !(options.temperature > 0))
    throw_invalid("temperature must be > 0 when sampling");
  const int64_t total = static_cast<int64_t>(prompt.size()) + options.max_new_tokens;
  check_length(total, config);
  return guard_torch("generate", [&] {
    c10::InferenceMode guard;
    models::KvCache cache = impl_->model->make_cache(1, total);
    std::mt19937_64 rng(options.seed);
    std::vector<int32_t> out;
    at::Tensor input = to_tensor(prompt);
    std::vector<double> probs;
    for (int step = 0; step < options.max_new_tokens; ++step) {
      at::Tensor logits =
          impl_->model->forward(input, cache, /*last_only=*/true).reshape({-1}).contiguous();
      int32_t next;
      if (options.greedy) {
        next = static_cast<int32_t>(logits.argmax().item<int64_t>());
      } else {
        const float* data = logits.data_ptr<float>();
        const int64_t n = logits.numel();
        const double max = *std::max_element(data, data + n);
        probs.assign(n, 0.0);
        for (int64_t i = 0; i < n; ++i) probs[i] = std::exp((data[i] - max) / options.temperature);
        std::discrete_distribution<int32_t> dist(probs.begin(), probs.end());
        next = dist(rng);
      }
      out.push_back(next);
      if (options.stop_at_eos && std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(),
                                           next) != config.eos_token_ids.end()) {
        break;
      }
      input = at::full({1, 1}, static_cast<int64_t>(next), at::TensorOptions().dtype(at::kLong));
    }
    return out;
  });
}

std::vector<float> Engine::logits(std::span<const int32_t> ids_in, size_t decode_from) {
  const std::vector<int32_t> ids = with_bos(ids_in, impl_->config);
  check_length(static_cast<int64_t>(ids.size()), impl_->config);
  const size_t prefill = std::clamp<size_t>(decode_from, 1, ids.size());
  return guard_torch("logits", [&] {
    c10::InferenceMode guard;
    models::KvCache cache = impl_->model->make_cache(1, static_cast<int64_t>(ids.size()));
    std::vector<float> out;
    auto append = [&](std::span<const int32_t> part) {
      const at::Tensor logits = impl_->model->forward(to_tensor(part), cache, /*last_only=*/false)
                                    .contiguous()
                                    .to(at::kCPU);
      const float* data = logits.data_ptr<float>();
      out.insert(out.end(), data, data + logits.numel());
    };
    append(std::span(ids).first(prefill));
    for (size_t i = prefill; i < ids.size(); ++i) append(std::span(ids).subspan(i, 1));
    return out;
  });
}

}  // namespace assay::inference
