#include "eval/serve/engine_queue.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "inference/local_model.h"

namespace assay::eval {
namespace {

std::string params_key(const inference::SamplingParams& p) {
  nlohmann::json j = {p.temperature, p.top_k, p.top_p, p.min_p, p.repetition_penalty,
                      p.max_new_tokens, p.stop, p.eos_ids, p.seed};
  return j.dump();
}

}  // namespace

EngineQueue::EngineQueue(inference::LocalModel& model, const inference::Tokenizer& tokenizer,
                         inference::BatchOptions options)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      context_(options.max_context > 0 ? options.max_context
                                       : model.config().max_position_embeddings),
      thread_([this] { loop(); }) {}

EngineQueue::~EngineQueue() { shutdown(); }

std::future<inference::GenerationResult> EngineQueue::submit(
    std::vector<std::int32_t> prompt_ids, const inference::SamplingParams& params,
    std::optional<std::uint64_t> seed) {
  auto job = std::make_unique<Job>();
  job->params = params;
  job->key = params_key(params);
  job->request.prompt_ids = std::move(prompt_ids);
  job->request.seed = seed;
  std::future<inference::GenerationResult> result = job->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job->request.id = std::to_string(next_id_++);
    // Without a seed of its own, a sampled request draws from a seed no other request shares.
    if (!seed) job->request.seed = 0x9e3779b97f4a7c15ull * (next_id_ + 1);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return result;
}

void EngineQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

EngineQueueStats EngineQueue::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void EngineQueue::take(const std::string& key, std::vector<inference::GenerationRequest>& out,
                       int64_t max_positions) {
  for (auto it = queue_.begin(); it != queue_.end();) {
    const auto len = static_cast<int64_t>(std::max<size_t>(1, (*it)->request.prompt_ids.size()));
    const int64_t positions = std::min(context_, len + (*it)->params.max_new_tokens);
    if ((*it)->key != key) {
      ++it;
      continue;
    }
    // One that does not fit stops the taking: the run drains and the next one, sized for it,
    // starts with it (no request waits behind a stream of shorter ones forever).
    if (positions > max_positions) break;
    out.push_back((*it)->request);
    std::string id = (*it)->request.id;
    running_.emplace(std::move(id), std::move(*it));
    it = queue_.erase(it);
  }
}

void EngineQueue::gather(std::unique_lock<std::mutex>& lock) {
  const auto deadline = std::chrono::steady_clock::now() + kGatherMax;
  while (!closing_) {
    const size_t before = queue_.size();
    const auto until = std::min(std::chrono::steady_clock::now() + kGatherGap, deadline);
    if (!wake_.wait_until(lock, until, [&] { return closing_ || queue_.size() > before; })) return;
  }
}

void EngineQueue::loop() {
  while (true) {
    std::vector<inference::GenerationRequest> first;
    inference::SamplingParams params;
    std::string key;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and nothing left
      gather(lock);
      params = queue_.front()->params;
      key = queue_.front()->key;
      take(key, first, context_);
      ++stats_.runs;
      log::debug("engine run", {{"requests", first.size()}, {"queued", queue_.size()}});
    }
    auto on_done = [&](inference::GenerationResult&& r) {
      std::unique_ptr<Job> job;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = running_.find(r.id);
        if (it == running_.end()) return;
        job = std::move(it->second);
        running_.erase(it);
        ++stats_.requests;
      }
      job->done.set_value(std::move(r));
    };
    auto more = [&](std::vector<inference::GenerationRequest>& out, int64_t max_positions) {
      std::lock_guard<std::mutex> lock(mutex_);
      take(key, out, max_positions);
    };
    std::exception_ptr failure;
    try {
      model_.generate_batch(tokenizer_, first, params, options_, on_done, nullptr, more);
    } catch (...) {
      log::error("the engine failed a batch; its requests get the error");
      failure = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, job] : running_) {
      job->done.set_exception(failure ? failure
                                      : std::make_exception_ptr(std::runtime_error(
                                            "the engine returned without answering")));
    }
    running_.clear();
  }
}

}  // namespace assay::eval
