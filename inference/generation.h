// The option, request and result structs of generation and log-likelihood: what eval fills and
// reads on one side of local_model.h, and what the libtorch code (engine.h, batch_generator.h)
// takes on the other. Torch-free, plain data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace assay::inference {

// How to load a model (Engine::load, load_local_model).
struct EngineOptions {
  // "cpu", or "cuda" / "cuda:N" (needs a build with ASSAY_WITH_CUDA)
  std::string device = "cpu";
  // "float32" or "bfloat16"; "auto" = bfloat16 on cuda, float32 on cpu
  std::string dtype = "float32";
  // base weights for a LoRA adapter; empty = the adapter's base_model_name_or_path
  std::filesystem::path base_model;
  // torch intra-op threads on cpu; 0 = all available cores (1 below 10M parameters). Loading on
  // cpu also sets glibc malloc to keep freed buffers (see engine.cpp)
  int threads = 0;
};

// One single-prompt generation (Engine::generate, LocalModel::generate).
struct GenerateOptions {
  int max_new_tokens = 64;   // tokens to generate at most; 0 = none
  bool greedy = true;        // argmax; false = sample from softmax(logits / temperature)
  double temperature = 1.0;  // > 0; sampling only
  uint64_t seed = 0;         // sampling only: same seed, same output
  bool stop_at_eos = true;   // stop after an EOS id (the EOS is kept in the output)
};

// Applied in vLLM's order: repetition penalty, then greedy argmax (temperature 0) or temperature,
// top_k, top_p, min_p and a draw from the request's own RNG.
struct SamplingParams {
  double temperature = 0.0;         // 0 = greedy (argmax, lowest id on ties); < 0 is invalid
  int top_k = 0;                    // 0 = off (all tokens); < 0 is invalid
  double top_p = 1.0;               // 1 = off; must be in (0, 1]
  double min_p = 0.0;               // 0 = off; must be in [0, 1]
  double repetition_penalty = 1.0;  // 1 = off; > 0; HF/vLLM semantics over prompt + output ids
  int max_new_tokens = 256;         // at most this many new ids (fewer when the context runs out)
  std::vector<std::string> stop;    // stop strings: output text ends before the first match
  std::vector<int32_t> eos_ids;  // empty = generation_config.json's list, else the tokenizer's EOS
  uint64_t seed = 0;             // run seed; each request's RNG is seeded from (seed, request id)
};

struct GenerationRequest {
  std::string id;                   // identifies the request (and seeds its RNG)
  std::vector<int32_t> prompt_ids;  // empty = BOS alone
  // The request's own RNG seed instead of one from (params.seed, id) (a server's `seed`).
  std::optional<uint64_t> seed = std::nullopt;
};

struct GenerationResult {
  std::string id;
  std::vector<int32_t> output_ids;  // generated ids (EOS excluded; with "stop", up to and
                                    // including the id that completed the stop string)
  std::string text;                 // decoded (skip_special_tokens), stop string removed
  std::string finish_reason;        // "eos" | "stop" | "length" | "error" (non-finite logits)
  std::string stop_string;          // "stop": the stop string that ended the text
  size_t prompt_tokens = 0;         // ids the model saw as the prompt (BOS for an empty one)
  size_t completion_tokens = 0;     // output_ids.size()
};

// Serving: called by a running batch generation whenever a slot is free, to append requests that
// arrived since (same SamplingParams) to `out`: only ones whose prompt + max_new_tokens (capped
// at the context) fit in `max_positions`, the KV cache's room per slot; others wait for a later
// run. The generation returns once nothing is in flight and a call added nothing.
using MoreRequests =
    std::function<void(std::vector<GenerationRequest>& out, int64_t max_positions)>;

struct BatchOptions {
  int max_batch_size = 32;      // sequence slots (KV cache rows); >= 1
  int max_batch_tokens = 8192;  // padded prefill tokens per step at most (one longer prompt
                                // still runs, alone)
  int max_context = 0;          // per-slot context (prompt + new); 0 = max_position_embeddings
};

struct LoglikelihoodRequest {
  std::vector<int32_t> context;       // empty = BOS alone
  std::vector<int32_t> continuation;  // the ids scored
};

struct LoglikelihoodResult {
  double sum_logprob = 0;             // sum of token_logprobs (accumulated in double)
  std::vector<float> token_logprobs;  // log P(continuation[i] | context, continuation[<i])
  bool is_greedy = false;             // every continuation id is the argmax (lowest id on ties)
};

}  // namespace assay::inference
