// Continuous-batching generation (vLLM-style sampling parameters, per-request RNG, stop strings)
// and batched log-likelihood over an Engine (option and result structs: generation.h). Torch-free
// header; the libtorch work happens in batch_generator.cpp. eval reaches it through local_model.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "inference/engine.h"
#include "inference/generation.h"
#include "inference/tokenizer.h"

namespace assay::inference {

namespace models {
struct KvCache;
}

class BatchGenerator {
 public:
  // Keeps references to `engine` and `tokenizer`, which must outlive the generator. Throws
  // assay::Error (invalid input) for max_batch_size < 1, max_batch_tokens < 1, max_context < 0 or
  // above max_position_embeddings.
  BatchGenerator(Engine& engine, const Tokenizer& tokenizer, BatchOptions options);
  ~BatchGenerator();

  // Generates for every request with continuous batching: a fixed set of slots over one
  // preallocated KV cache (memory: max_batch_size x context positions; kept for later runs of
  // this generator, made anew only when one needs more slots or positions), prompts admitted in
  // order of length into free slots as soon as others finish, prefill and decode steps batched
  // across slots. Calls on_done(result) for each finished request as soon as it finishes (on the
  // calling thread; finishing order, not request order). When *stop becomes true it admits no new
  // request and returns at the next step, abandoning the ones in flight (their on_done is never
  // called). Returns how many requests completed. A request's output depends only on the model, its
  // prompt, `params` and its id: never on its batch companions, max_batch_size or resume.
  // Throws assay::Error (invalid input), before generating anything, for bad params, a prompt id
  // outside the vocabulary, an empty prompt when the model has no BOS, or a prompt that leaves no
  // room for a new token in the context; exceptions from on_done propagate.
  // With `more` (serving), requests it adds join as slots free up, in arrival order; the KV cache
  // then holds max_batch_size slots of what the first requests need, rounded up to a power of two
  // of at least 512 positions (at most the context), and `more` is told that room.
  size_t run(std::span<const GenerationRequest> requests, const SamplingParams& params,
             const std::function<void(GenerationResult&&)>& on_done,
             const std::atomic<bool>* stop = nullptr, const MoreRequests& more = {});

 private:
  Engine& engine_;
  const Tokenizer& tokenizer_;
  BatchOptions options_;
  std::unique_ptr<models::KvCache> cache_;  // made by the first run
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
