// The bridge between `evaluate serve`'s HTTP threads and the engine: requests from many clients
// wait in one queue, and one engine thread runs them with continuous batching. Requests with the
// same sampling parameters share a batch, and ones that arrive while it runs join it as slots
// free up (inference::MoreRequests); others wait for the next batch.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "inference/generation.h"

namespace assay::inference {
class LocalModel;
class Tokenizer;
}  // namespace assay::inference

namespace assay::eval {

struct EngineQueueStats {
  std::uint64_t requests = 0;  // answered
  std::uint64_t runs = 0;      // engine runs (batches that started from an idle engine)
};

class EngineQueue {
 public:
  // `model` and `tokenizer` must outlive the queue. Starts the engine thread.
  EngineQueue(inference::LocalModel& model, const inference::Tokenizer& tokenizer,
              inference::BatchOptions options);
  // shutdown().
  ~EngineQueue();
  EngineQueue(const EngineQueue&) = delete;
  EngineQueue& operator=(const EngineQueue&) = delete;

  // Queues one prompt (validated by the caller: ids in the vocabulary, room for a new token).
  // The future holds the result, or the engine's exception.
  std::future<inference::GenerationResult> submit(std::vector<std::int32_t> prompt_ids,
                                                  const inference::SamplingParams& params,
                                                  std::optional<std::uint64_t> seed);
  // Answers everything queued or running, then stops the engine thread. Idempotent.
  void shutdown();
  EngineQueueStats stats() const;

 private:
  struct Job {
    inference::GenerationRequest request;
    inference::SamplingParams params;
    std::string key;  // the sampling parameters, serialized: jobs with equal keys share a batch
    std::promise<inference::GenerationResult> done;
  };

  // Requests that arrive together start together. A run started by the first request of a
  // burst would prefill the others in later groups, and they would stay a step or two apart for
  // the whole run (an extra, partly padded prefill per group each time their slots refill). So
  // an idle engine waits while requests keep arriving (each within kGatherGap of the last, at
  // most kGatherMax in all); the run then admits them shortest first, as an in-process run
  // does. A lone request waits kGatherGap. Caller holds `lock` on mutex_.
  static constexpr std::chrono::milliseconds kGatherGap{10};
  static constexpr std::chrono::milliseconds kGatherMax{100};
  void gather(std::unique_lock<std::mutex>& lock);
  void loop();
  // Moves the queued jobs whose key is `key`, in order, into running_, appending their requests
  // to `out`, up to the first that does not fit in `max_positions` (prompt + max_new_tokens,
  // capped at the context). Caller holds mutex_.
  void take(const std::string& key, std::vector<inference::GenerationRequest>& out,
            int64_t max_positions);

  inference::LocalModel& model_;
  const inference::Tokenizer& tokenizer_;
  inference::BatchOptions options_;
  int64_t context_;  // positions per sequence at most
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> queue_;
  std::map<std::string, std::unique_ptr<Job>> running_;  // by request id
  std::uint64_t next_id_ = 0;
  bool closing_ = false;
  EngineQueueStats stats_;
  std::thread thread_;
};

}  // namespace assay::eval
