// The model as eval sees it: a loaded checkpoint that generates, batch-generates and scores
// log-likelihoods. Torch-free: the implementation (Engine and BatchGenerator over libtorch) lives
// in the inference module, libassay_inference_torch.so, which load_local_model opens on first use,
// so a command that loads no model never maps libtorch.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "inference/generation.h"
#include "inference/model_config.h"
#include "inference/model_files.h"

namespace assay::inference {

class Tokenizer;

class LocalModel {
 public:
  virtual ~LocalModel() = default;

  virtual const ModelConfig& config() const = 0;
  virtual const ModelFiles& files() const = 0;

  // One continuation of `prompt`, as Engine::generate: returns only the new ids; an empty prompt
  // means BOS alone. Throws assay::Error (invalid input) for ids outside the vocabulary, a model
  // without BOS for an empty prompt, or a prompt + max_new_tokens beyond the context.
  virtual std::vector<int32_t> generate(std::span<const int32_t> prompt,
                                        const GenerateOptions& options) = 0;

  // Continuous-batching generation, as BatchGenerator(model, tokenizer, options).run(requests,
  // params, on_done, stop): on_done(result) for each request as it finishes (calling thread,
  // finishing order); once *stop is true no request is admitted and the call returns at the next
  // step, the ones in flight abandoned. Returns how many requests completed. `tokenizer` (decodes
  // results, finds stop strings) is only used during the call. The KV cache is made per call.
  // Throws assay::Error (invalid input), before generating anything, for bad options or params or
  // a prompt that does not fit; exceptions from on_done propagate. With `more` (serving), the
  // requests it adds join the run as slots free up (BatchGenerator::run).
  virtual size_t generate_batch(const Tokenizer& tokenizer,
                                std::span<const GenerationRequest> requests,
                                const SamplingParams& params, const BatchOptions& options,
                                const std::function<void(GenerationResult&&)>& on_done,
                                const std::atomic<bool>* stop = nullptr,
                                const MoreRequests& more = {}) = 0;

  // Batched log-likelihood of each continuation given its context, in request order (see
  // inference::loglikelihood in batch_generator.h). Throws assay::Error (invalid input) for ids
  // outside the vocabulary, an empty context without BOS, or a request beyond the context.
  virtual std::vector<LoglikelihoodResult> loglikelihood(
      std::span<const LoglikelihoodRequest> requests, int max_batch_size = 32) = 0;
};

// Names the inference module to open instead of the installed one (tests, unusual layouts).
inline constexpr const char* kInferenceModuleEnv = "ASSAY_INFERENCE_MODULE";

// The module load_local_model opens: $ASSAY_INFERENCE_MODULE when set and not empty, else
// <directory of the running executable>/../lib/assay/libassay_inference_torch.so (the build tree
// and `cmake --install` both put it there).
std::filesystem::path inference_module_path();

// Opens the inference module (once per process; it is never closed), then resolves and loads
// `model` as Engine::load does: folder, LoRA adapter or model.tar.gz. The caller owns the result.
// Throws assay::Error: i/o (exit 4) naming the module file when it is missing, not a shared
// object, lacks a dependency (libtorch) or is from another build; not found / invalid input
// from the model itself, naming the file and field.
std::unique_ptr<LocalModel> load_local_model(const std::filesystem::path& model,
                                             const EngineOptions& options);

// The module's one entry point, looked up by name with dlsym. Its functions resolve core's and
// inference's torch-free symbols (logging, the redactor, assay::Error, tokenizers, safetensors)
// from the executable, so the process has one copy of each. The suffix changes whenever this
// header or generation.h changes a layout the two sides share.
inline constexpr const char* kInferenceModuleEntry = "assay_inference_load_local_model_v2";
using InferenceModuleEntry = void (*)(const std::filesystem::path& model,
                                      const EngineOptions& options,
                                      std::unique_ptr<LocalModel>& out);

}  // namespace assay::inference
