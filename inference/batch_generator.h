// Continuous-batching generation (vLLM-style sampling parameters, per-request RNG, stop strings)
// and batched log-likelihood over an Engine. Torch-free header: eval includes it; the libtorch
// work happens in batch_generator.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "inference/engine.h"
#include "inference/tokenizer.h"

namespace assay::inference {

namespace models {
struct KvCache;
}

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
};

struct GenerationResult {
  std::string id;
  std::vector<int32_t> output_ids;  // generated ids (EOS excluded; with "stop", up to and
                                    // including the id that completed the stop string)
  std::string text;                 // decoded (skip_special_tokens), stop string removed
  std::string finish_reason;        // "eos" | "stop" | "length"
  size_t prompt_tokens = 0;         // ids the model saw as the prompt (BOS for an empty one)
  size_t completion_tokens = 0;     // output_ids.size()
};

struct BatchOptions {
  int max_batch_size = 32;      // sequence slots (KV cache rows); >= 1
  int max_batch_tokens = 8192;  // padded prefill tokens per step at most (one longer prompt
                                // still runs, alone)
  int max_context = 0;          // per-slot context (prompt + new); 0 = max_position_embeddings
};

class BatchGenerator {
 public:
  // Keeps references to `engine` and `tokenizer`, which must outlive the generator. Throws
  // assay::Error (invalid input) for max_batch_size < 1, max_batch_tokens < 1, max_context < 0 or
  // above max_position_embeddings.
  BatchGenerator(Engine& engine, const Tokenizer& tokenizer, BatchOptions options);
  ~BatchGenerator();

  // Generates for every request with continuous batching: a fixed set of slots over one
  // preallocated KV cache (memory: max_batch_size x context positions; kept for later runs of
  // this generator, made anew only when one needs more slots or positions), prompts admitted in order
  // of length into free slots as soon as others finish, prefill and decode steps batched across
  // slots. Calls on_done(result) for each finished request as soon as it finishes (on the calling
  // thread; finishing order, not request order). When *stop becomes true it admits no new request
  // and returns at the next step, abandoning the ones in flight (their on_done is never called).
  // Returns how many requests completed. A request's output depends only on the model, its
  // prompt, `params` and its id: never on its batch companions, max_batch_size or resume.
  // Throws assay::Error (invalid input), before generating anything, for bad params, a prompt id
  // outside the vocabulary, an empty prompt when the model has no BOS, or a prompt that leaves no
  // room for a new token in the context; exceptions from on_done propagate.
  size_t run(std::span<const GenerationRequest> requests, const SamplingParams& params,
             const std::function<void(GenerationResult&&)>& on_done,
             const std::atomic<bool>* stop = nullptr);

 private:
  Engine& engine_;
  const Tokenizer& tokenizer_;
  BatchOptions options_;
  std::unique_ptr<models::KvCache> cache_;  // made by the first run
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

// Batched log-likelihood of each continuation given its context (lm-evaluation-harness's
// loglikelihood): requests sorted by length, right-padded in batches of up to max_batch_size
// rows, one forward each; log-softmax in double. Results are in request order. Throws
// assay::Error (invalid input) for ids outside the vocabulary, an empty context when the model
// has no BOS, or context + continuation longer than max_position_embeddings.
std::vector<LoglikelihoodResult> loglikelihood(Engine& engine,
                                               std::span<const LoglikelihoodRequest> requests,
                                               int max_batch_size = 32);

}  // namespace assay::inference
