#include "eval/generators/local_generator.h"

#include "core/error.h"
#include "eval/model_handle.h"
#include "inference/tokenizer.h"

namespace assay::eval {
namespace {

class LocalGenerator final : public Generator {
 public:
  LocalGenerator(const GenerationSettings& gen, ModelHandle& model) : gen_(gen), model_(model) {}

  std::string name() const override { return "local"; }

  std::optional<std::filesystem::path> chat_template_dir() override {
    return model_.get().files().tokenizer_dir;
  }

  void generate(std::span<const GenerateRequest> requests,
                const std::function<void(GenerateResult&&)>& on_result,
                const std::atomic<bool>* cancel) override {
    inference::LocalModel& engine = model_.get();
    const auto tokenizer = inference::Tokenizer::load(engine.files().tokenizer_dir);
    const int64_t context = engine.config().max_position_embeddings;
    std::vector<inference::GenerationRequest> encoded;
    encoded.reserve(requests.size());
    for (const GenerateRequest& r : requests) {
      std::vector<int32_t> ids = tokenizer->encode(r.prompt, /*add_special_tokens=*/true);
      if (context > 0 && static_cast<int64_t>(ids.size()) >= context) {
        throw_invalid(
            r.where + ": sample '" + r.id + "': the prompt has " + std::to_string(ids.size()) +
            " tokens, the model's context (max_position_embeddings) is " + std::to_string(context));
      }
      encoded.push_back({r.id, std::move(ids), std::nullopt});
    }
    inference::SamplingParams sp;
    sp.temperature = gen_.temperature;
    sp.top_k = gen_.top_k;
    sp.top_p = gen_.top_p;
    sp.min_p = gen_.min_p;
    sp.repetition_penalty = gen_.repetition_penalty;
    sp.max_new_tokens = gen_.max_new_tokens;
    sp.stop = gen_.stop;
    sp.seed = gen_.seed;
    inference::BatchOptions bo;
    bo.max_batch_size = gen_.max_batch_size;
    bo.max_batch_tokens = gen_.max_batch_tokens;
    bo.max_context = static_cast<int>(context);
    engine.generate_batch(
        *tokenizer, encoded, sp, bo,
        [&](inference::GenerationResult&& r) {
          GenerateResult out;
          out.id = std::move(r.id);
          out.text = std::move(r.text);
          out.finish_reason = std::move(r.finish_reason);
          out.prompt_tokens = r.prompt_tokens;
          out.completion_tokens = r.completion_tokens;
          on_result(std::move(out));
        },
        cancel);
  }

 private:
  const GenerationSettings& gen_;
  ModelHandle& model_;
};

}  // namespace

std::unique_ptr<Generator> make_local_generator(const GeneratorContext& ctx) {
  return std::make_unique<LocalGenerator>(ctx.settings.generation, ctx.model);
}

}  // namespace assay::eval
