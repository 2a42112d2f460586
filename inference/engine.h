// One loaded model: load a checkpoint (folder, LoRA adapter or model.tar.gz) and generate token
// ids. Torch-free header over the libtorch model (engine.cpp); built into the inference module
// and inference/'s tests and benchmarks. eval reaches it only through local_model.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "inference/generation.h"
#include "inference/model_config.h"
#include "inference/model_files.h"

namespace assay::inference {

namespace models {
class Transformer;
}

class Engine {
 public:
  // Resolves and loads `model` (see resolve_model_files), checks config against weights, merges a
  // LoRA adapter. Throws assay::Error: not found / invalid input naming the file and field, invalid
  // input for an unknown device or dtype (or cuda in a CPU-only build).
  static std::unique_ptr<Engine> load(const std::filesystem::path& model,
                                      const EngineOptions& options);
  ~Engine();

  const ModelConfig& config() const;
  const ModelFiles& files() const;

  // Generates a continuation of `prompt` (an empty prompt means BOS alone; throws assay::Error
  // when the model has no BOS). Returns only the new ids. Throws assay::Error (invalid input) for
  // ids outside the vocabulary or a prompt + max_new_tokens longer than max_position_embeddings.
  std::vector<int32_t> generate(std::span<const int32_t> prompt, const GenerateOptions& options);

  // Float32 logits for every position of `ids` (row-major [ids.size(), vocab_size]); for tests and
  // log-likelihood scoring. Positions from `decode_from` on (counted after the BOS that may be
  // added) run one at a time through the KV cache, as decode steps do. Throws like generate.
  std::vector<float> logits(std::span<const int32_t> ids, size_t decode_from = SIZE_MAX);

  // The libtorch model, for inference/'s own batching code (batch_generator.cpp). Not for eval.
  models::Transformer& transformer();

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace assay::inference
