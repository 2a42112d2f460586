// The model as eval sees it: load a checkpoint (folder, LoRA adapter or model.tar.gz) and
// generate token ids. Torch-free interface; the libtorch model lives behind it (engine.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "inference/model_config.h"
#include "inference/model_files.h"

namespace assay::inference {

namespace models {
class Transformer;
}

struct EngineOptions {
  std::string device = "cpu";  // "cpu", or "cuda" / "cuda:N" (needs a build with ASSAY_WITH_CUDA)
  std::string dtype =
      "float32";  // "float32" or "bfloat16"; "auto" = bfloat16 on cuda, float32 on cpu
  std::filesystem::path
      base_model;  // base weights for a LoRA adapter; empty = base_model_name_or_path
  int threads =
      0;  // torch intra-op threads on cpu; 0 = all available cores (1 below 10M parameters).
          // Loading on cpu also sets glibc malloc to keep freed buffers (see engine.cpp)
};

struct GenerateOptions {
  int max_new_tokens = 64;   // tokens to generate at most; 0 = none
  bool greedy = true;        // argmax; false = sample from softmax(logits / temperature)
  double temperature = 1.0;  // > 0; sampling only
  uint64_t seed = 0;         // sampling only: same seed, same output
  bool stop_at_eos = true;   // stop after an EOS id (the EOS is kept in the output)
};

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
