// The inference module's side of local_model.h: LocalModel over Engine and BatchGenerator, and the
// module's one entry point. Built only into libassay_inference_torch.so.
#include "inference/batch_generator.h"
#include "inference/engine.h"
#include "inference/local_model.h"

namespace assay::inference {
namespace {

class TorchLocalModel final : public LocalModel {
 public:
  explicit TorchLocalModel(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}

  const ModelConfig& config() const override { return engine_->config(); }
  const ModelFiles& files() const override { return engine_->files(); }

  std::vector<int32_t> generate(std::span<const int32_t> prompt,
                                const GenerateOptions& options) override {
    return engine_->generate(prompt, options);
  }

  size_t generate_batch(const Tokenizer& tokenizer, std::span<const GenerationRequest> requests,
                        const SamplingParams& params, const BatchOptions& options,
                        const std::function<void(GenerationResult&&)>& on_done,
                        const std::atomic<bool>* stop, const MoreRequests& more) override {
    BatchGenerator generator(*engine_, tokenizer, options);
    return generator.run(requests, params, on_done, stop, more);
  }

  std::vector<LoglikelihoodResult> loglikelihood(std::span<const LoglikelihoodRequest> requests,
                                                 int max_batch_size) override {
    return inference::loglikelihood(*engine_, requests, max_batch_size);
  }

 private:
  std::unique_ptr<Engine> engine_;
};

}  // namespace
}  // namespace assay::inference

// Exceptions (assay::Error from Engine::load) propagate to the caller: both sides share one
// libstdc++ and, resolved from the executable, one assay::Error type.
extern "C" __attribute__((visibility("default"))) void assay_inference_load_local_model_v2(
    const std::filesystem::path& model, const assay::inference::EngineOptions& options,
    std::unique_ptr<assay::inference::LocalModel>& out) {
  out = std::make_unique<assay::inference::TorchLocalModel>(
      assay::inference::Engine::load(model, options));
}

// The entry point's type must match what load_local_model casts the symbol to.
static_assert(std::is_same_v<decltype(&assay_inference_load_local_model_v2),
                             assay::inference::InferenceModuleEntry>);
