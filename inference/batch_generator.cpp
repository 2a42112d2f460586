#include "inference/batch_generator.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string_view>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include "core/error.h"
#include "inference/kernels/kernels.h"
#include "inference/models/transformer.h"
#include "inference/torch_guard.h"

namespace assay::inference {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The request's RNG seed: a function of (run seed, request id) only.
uint64_t request_seed(uint64_t seed, std::string_view id) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (unsigned char c : id) h = (h ^ c) * 0x100000001b3ull;
  return splitmix64(splitmix64(seed) ^ h);
}

// Uniform in [0, 1) from the top 53 bits: fully specified, unlike std::uniform_real_distribution.
double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

std::vector<int32_t> prompt_or_bos(const std::vector<int32_t>& ids, const ModelConfig& config,
                                   const std::string& what) {
  if (!ids.empty()) return ids;
  if (!config.bos_token_id)
    throw_invalid(what + ": empty prompt and the model has no bos_token_id to start from");
  return {*config.bos_token_id};
}

void check_ids(std::span<const int32_t> ids, const ModelConfig& config, const std::string& what) {
  for (int32_t id : ids) {
    if (id < 0 || id >= config.vocab_size) {
      throw_invalid(what + ": token id " + std::to_string(id) +
                    " is outside the vocabulary (size " + std::to_string(config.vocab_size) + ")");
    }
  }
}

void check_params(const SamplingParams& p) {
  if (!(p.temperature >= 0) || !std::isfinite(p.temperature))
    throw_invalid("sampling: temperature must be >= 0 (0 = greedy)");
  if (p.top_k < 0) throw_invalid("sampling: top_k must be >= 0 (0 = off)");
  if (!(p.top_p > 0 && p.top_p <= 1)) throw_invalid("sampling: top_p must be in (0, 1]");
  if (!(p.min_p >= 0 && p.min_p <= 1)) throw_invalid("sampling: min_p must be in [0, 1]");
  if (!(p.repetition_penalty > 0) || !std::isfinite(p.repetition_penalty))
    throw_invalid("sampling: repetition_penalty must be > 0 (1 = off)");
  if (p.max_new_tokens < 0) throw_invalid("sampling: max_new_tokens must be >= 0");
  for (const std::string& s : p.stop)
    if (s.empty()) throw_invalid("sampling: a stop string is empty");
}

// One request in flight (or about to be).
struct Sequence {
  Sequence(const Tokenizer& tokenizer, size_t vocab) : decoder(tokenizer, true), seen(vocab) {}
  size_t request = 0;
  std::vector<int32_t> prompt;
  std::vector<int32_t> output;
  int64_t cached = 0;      // positions in this slot's KV cache
  int32_t next_input = 0;  // the last sampled id, not yet in the cache
  int64_t max_new = 0;
  std::mt19937_64 rng;
  IncrementalDecoder decoder;
  std::string text;
  std::vector<bool> seen;         // ids in prompt + output (repetition penalty)
  std::vector<int32_t> seen_ids;  // the same, as a list
  std::string finish_reason;      // empty while running
  std::string stop_string;        // the stop string that matched ("stop")

  void mark_seen(int32_t id) {
    if (!seen[id]) {
      seen[id] = true;
      seen_ids.push_back(id);
    }
  }
};

// Whether every logit of a row is finite (no NaN, no Inf): one branch-free pass.
bool all_finite(const float* logits, int64_t vocab) {
  bool bad = false;
  for (int64_t i = 0; i < vocab; ++i) {
    uint32_t bits;
    std::memcpy(&bits, logits + i, sizeof bits);
    bad |= (bits & 0x7F800000u) == 0x7F800000u;
  }
  return !bad;
}

// Picks the next id from one row of float logits, or kNonFinite when the row holds a NaN or an
// Inf (the model's numbers broke down; no id can be trusted). `z`, `order` are scratch buffers.
constexpr int32_t kNonFinite = -1;
int32_t pick_token(const float* logits, int64_t vocab, const SamplingParams& p, Sequence& seq,
                   std::vector<double>& z, std::vector<int32_t>& order) {
  if (!all_finite(logits, vocab)) return kNonFinite;
  const bool penalize = p.repetition_penalty != 1.0 && !seq.seen_ids.empty();
  if (p.temperature == 0 && !penalize) return static_cast<int32_t>(kernels::argmax(logits, vocab));
  z.assign(logits, logits + vocab);
  if (penalize) {
    for (int32_t id : seq.seen_ids)
      z[id] = z[id] > 0 ? z[id] / p.repetition_penalty : z[id] * p.repetition_penalty;
  }
  if (p.temperature == 0)
    return static_cast<int32_t>(std::max_element(z.begin(), z.end()) - z.begin());
  for (double& v : z) v /= p.temperature;
  // Candidates in descending logit order (ties: lower id first) when a filter needs an order.
  auto before = [&](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  order.resize(vocab);
  std::iota(order.begin(), order.end(), 0);
  int64_t n = vocab;
  if (p.top_k > 0 && p.top_k < vocab) {
    n = p.top_k;
    std::partial_sort(order.begin(), order.begin() + n, order.end(), before);
  } else if (p.top_p < 1 || p.min_p > 0) {
    std::sort(order.begin(), order.end(), before);
  }
  double max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, z[order[i]]);
  std::vector<double>& prob = z;  // reuse: prob[id] for candidates
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (prob[order[i]] = std::exp(z[order[i]] - max));
  if (p.top_p < 1) {  // smallest prefix whose mass reaches top_p (at least one token)
    double cum = 0;
    int64_t keep = 0;
    while (keep < n) {
      cum += prob[order[keep]] / sum;
      ++keep;
      if (cum >= p.top_p) break;
    }
    n = keep;
  }
  if (p.min_p > 0) {  // the largest candidate is order[0]
    const double floor = p.min_p * prob[order[0]];
    int64_t keep = 1;
    while (keep < n && prob[order[keep]] >= floor) ++keep;
    n = keep;
  }
  sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += prob[order[i]];
  const double u = uniform01(seq.rng) * sum;
  double cum = 0;
  for (int64_t i = 0; i < n; ++i) {
    cum += prob[order[i]];
    if (u < cum) return order[i];
  }
  return order[n - 1];
}

// Appends decoded text and applies the stop strings; true when one matched (text truncated).
bool append_text(Sequence& seq, const std::string& piece, const std::vector<std::string>& stop) {
  if (piece.empty()) return false;
  const size_t old_size = seq.text.size();
  seq.text += piece;
  size_t best = std::string::npos;
  for (const std::string& s : stop) {
    const size_t from = old_size >= s.size() ? old_size - s.size() + 1 : 0;
    const size_t at = seq.text.find(s, from);
    if (at != std::string::npos && at < best) {
      best = at;
      seq.stop_string = s;
    }
  }
  if (best == std::string::npos) return false;
  seq.text.resize(best);
  return true;
}

// Accepts sampled id `id` for `seq`: sets finish_reason when it ends the sequence.
void accept(Sequence& seq, int32_t id, const std::vector<int32_t>& eos,
            const SamplingParams& params) {
  if (std::find(eos.begin(), eos.end(), id) != eos.end()) {
    seq.finish_reason = "eos";
  } else {
    seq.output.push_back(id);
    seq.mark_seen(id);
    seq.next_input = id;
    if (append_text(seq, seq.decoder.push(id), params.stop)) {
      seq.finish_reason = "stop";
      return;
    }
    if (static_cast<int64_t>(seq.output.size()) >= seq.max_new) seq.finish_reason = "length";
  }
  if (!seq.finish_reason.empty() && append_text(seq, seq.decoder.flush(), params.stop))
    seq.finish_reason = "stop";
}

}  // namespace

BatchGenerator::BatchGenerator(Engine& engine, const Tokenizer& tokenizer, BatchOptions options)
    : engine_(engine), tokenizer_(tokenizer), options_(options) {
  if (options_.max_batch_size < 1) throw_invalid("max_batch_size must be >= 1");
  if (options_.max_batch_tokens < 1) throw_invalid("max_batch_tokens must be >= 1");
  const int64_t max_pos = engine_.config().max_position_embeddings;
  if (options_.max_context < 0 || options_.max_context > max_pos) {
    throw_invalid("max_context " + std::to_string(options_.max_context) +
                  " must be in 0 .. max_position_embeddings (" + std::to_string(max_pos) + ")");
  }
}

BatchGenerator::~BatchGenerator() = default;

size_t BatchGenerator::run(std::span<const GenerationRequest> requests,
                           const SamplingParams& params,
                           const std::function<void(GenerationResult&&)>& on_done,
                           const std::atomic<bool>* stop, const MoreRequests& more) {
  check_params(params);
  const ModelConfig& config = engine_.config();
  const int64_t vocab = config.vocab_size;
  const int64_t context =
      options_.max_context > 0 ? options_.max_context : config.max_position_embeddings;
  std::vector<int32_t> eos = params.eos_ids;
  if (eos.empty()) eos = config.eos_token_ids;
  if (eos.empty() && tokenizer_.eos_id()) eos.push_back(*tokenizer_.eos_id());

  // Validate everything before generating anything.
  // Requests by index: the given ones, then those `more` adds while the run goes on.
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> ids;
  std::vector<uint64_t> seeds;  // each request's RNG seed
  int64_t needed = 1;  // positions a slot must hold
  auto add = [&](const GenerationRequest& request) {
    const std::string what = "request '" + request.id + "'";
    std::vector<int32_t> prompt = prompt_or_bos(request.prompt_ids, config, what);
    check_ids(prompt, config, what);
    const int64_t len = static_cast<int64_t>(prompt.size());
    if (params.max_new_tokens > 0 && len >= context) {
      throw_invalid(what + ": prompt of " + std::to_string(len) +
                    " tokens leaves no room for a new token in the context of " +
                    std::to_string(context) + " positions");
    }
    needed = std::max(needed, std::min(context, len + params.max_new_tokens));
    prompts.push_back(std::move(prompt));
    ids.push_back(request.id);
    seeds.push_back(request.seed ? *request.seed : request_seed(params.seed, request.id));
  };
  for (const GenerationRequest& r : requests) add(r);
  // Serving: room for what the first requests need, rounded up (at least 512 positions) so that
  // most later arrivals fit too; one that does not waits for the next run.
  if (more) {
    const uint64_t at_least = static_cast<uint64_t>(std::max<int64_t>(needed, 512));
    needed = std::min(context, static_cast<int64_t>(std::bit_ceil(at_least)));
  }
  const int64_t capacity = needed;

  auto finish = [&](Sequence& seq) {
    GenerationResult result;
    result.id = ids[seq.request];
    result.output_ids = std::move(seq.output);
    result.text = std::move(seq.text);
    result.finish_reason = seq.finish_reason;
    result.stop_string = std::move(seq.stop_string);
    result.prompt_tokens = seq.prompt.size();
    result.completion_tokens = result.output_ids.size();
    on_done(std::move(result));
  };
  auto stopping = [&] { return stop != nullptr && stop->load(); };

  size_t completed = 0;
  // Admission order: by prompt length (stable), so a prefill group pads little.
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return prompts[a].size() < prompts[b].size(); });
  size_t next = 0;
  // Serving: requests that arrived since the last step join in arrival order.
  std::vector<GenerationRequest> arrived;
  auto take_arrivals = [&] {
    if (!more) return;
    arrived.clear();
    more(arrived, capacity);
    // Those that arrived together are admitted shortest first (a prefill group pads to its
    // longest); they still go after every request that arrived before them.
    const size_t from = order.size();
    for (const GenerationRequest& r : arrived) {
      order.push_back(prompts.size());
      add(r);
      if (needed > capacity) throw_internal("a request joined a run whose KV cache cannot hold it");
    }
    std::stable_sort(order.begin() + from, order.end(),
                     [&](size_t a, size_t b) { return prompts[a].size() < prompts[b].size(); });
  };
  if (params.max_new_tokens == 0) {
    take_arrivals();
    for (; next < order.size() && !stopping(); ++next) {
      Sequence seq(tokenizer_, 1);
      seq.request = order[next];
      seq.prompt = prompts[order[next]];
      seq.finish_reason = "length";
      finish(seq);
      ++completed;
    }
    return completed;
  }

  const int64_t slots =
      more ? options_.max_batch_size
           : std::min<int64_t>(options_.max_batch_size, std::max<size_t>(1, requests.size()));
  return guard_torch("generate", [&]() -> size_t {
    c10::InferenceMode guard;
    models::Transformer& model = engine_.transformer();
    // Positions a run reads are always ones it wrote (a slot's own prompt and outputs), so a
    // cache kept from an earlier run is reused as it is: no new mapping, no page faults.
    if (cache_ == nullptr || cache_->k.front().size(0) < slots || cache_->capacity < needed) {
      cache_.reset();  // the old one's memory goes back before the new one is made
      cache_ = std::make_unique<models::KvCache>(model.make_cache(slots, needed));
    }
    models::KvCache& cache = *cache_;
    std::vector<std::unique_ptr<Sequence>> live;  // live[i] runs in cache slot i
    std::vector<int32_t> picks;

    // Samples one id per row of `logits` for live[first ..], then retires finished sequences,
    // moving the last live slot into each freed one so that live slots stay 0 .. n-1.
    auto sample_and_retire = [&](const at::Tensor& logits_in, size_t first) {
      const at::Tensor logits = logits_in.to(at::kCPU).contiguous();
      const float* data = logits.data_ptr<float>();
      // Rows are picked in parallel (each sequence draws from its own RNG, so which thread picks
      // a row changes nothing); accepting them (text, stop strings) stays in row order.
      const int64_t n = static_cast<int64_t>(live.size() - first);
      picks.resize(n);
      at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
        thread_local std::vector<double> z;
        thread_local std::vector<int32_t> order;
        for (int64_t i = begin; i < end; ++i)
          picks[i] = pick_token(data + i * vocab, vocab, params, *live[first + i], z, order);
      });
      for (int64_t i = 0; i < n; ++i) {
        if (picks[i] == kNonFinite) {
          live[first + i]->finish_reason = "error";  // kept as generated so far; rerun won't help
          continue;
        }
        accept(*live[first + i], picks[i], eos, params);
      }
      for (size_t i = live.size(); i-- > 0;) {
        if (live[i]->finish_reason.empty()) continue;
        finish(*live[i]);
        ++completed;
        const size_t last = live.size() - 1;
        if (i != last) {
          const int64_t len = live[last]->cached;
          for (size_t l = 0; l < cache.k.size(); ++l) {
            cache.k[l][i].narrow(1, 0, len).copy_(cache.k[l][last].narrow(1, 0, len));
            cache.v[l][i].narrow(1, 0, len).copy_(cache.v[l][last].narrow(1, 0, len));
          }
          live[i] = std::move(live[last]);
        }
        live.pop_back();
      }
    };

    while (true) {
      if (stopping()) break;
      if (static_cast<int64_t>(live.size()) < slots) take_arrivals();
      // Admission: fill free slots with the next prompts, in groups of at most max_batch_tokens
      // padded tokens (a group's longest prompt is its last: the order is by length).
      while (next < order.size() && static_cast<int64_t>(live.size()) < slots) {
        const size_t first = live.size();
        int64_t width = 0;
        while (next < order.size() && static_cast<int64_t>(live.size()) < slots) {
          const int64_t len = static_cast<int64_t>(prompts[order[next]].size());
          const int64_t rows = static_cast<int64_t>(live.size() - first) + 1;
          if (rows > 1 && rows * std::max(width, len) > options_.max_batch_tokens) break;
          width = std::max(width, len);
          auto seq = std::make_unique<Sequence>(tokenizer_, vocab);
          seq->request = order[next];
          seq->prompt = prompts[order[next]];
          seq->rng.seed(seeds[order[next]]);
          seq->max_new = std::min<int64_t>(params.max_new_tokens, context - len);
          for (int32_t id : seq->prompt) seq->mark_seen(id);
          live.push_back(std::move(seq));
          ++next;
        }
        const int64_t rows = static_cast<int64_t>(live.size() - first);
        std::vector<int64_t> tokens(rows * width, 0);
        models::SlotBatch sb;
        sb.first_slot = static_cast<int64_t>(first);
        for (int64_t b = 0; b < rows; ++b) {
          const std::vector<int32_t>& prompt = live[first + b]->prompt;
          std::copy(prompt.begin(), prompt.end(), tokens.begin() + b * width);
          const int64_t len = static_cast<int64_t>(prompt.size());
          sb.start.push_back(0);
          sb.count.push_back(len);
          sb.logit_rows.push_back(b * width + len - 1);
          live[first + b]->cached = len;
        }
        at::Tensor input =
            at::tensor(tokens, at::TensorOptions().dtype(at::kLong)).view({rows, width});
        sample_and_retire(model.forward_slots(input, cache, sb), first);
        if (stopping()) break;
      }
      if (stopping() || live.empty()) break;
      // One decode step across all live slots.
      const int64_t rows = static_cast<int64_t>(live.size());
      std::vector<int64_t> tokens(rows);
      models::SlotBatch sb;
      sb.first_slot = 0;
      for (int64_t b = 0; b < rows; ++b) {
        tokens[b] = live[b]->next_input;
        sb.start.push_back(live[b]->cached);
        sb.count.push_back(1);
        sb.logit_rows.push_back(b);
        live[b]->cached += 1;
      }
      at::Tensor input = at::tensor(tokens, at::TensorOptions().dtype(at::kLong)).view({rows, 1});
      sample_and_retire(model.forward_slots(input, cache, sb), 0);
    }
    return completed;
  });
}

std::vector<LoglikelihoodResult> loglikelihood(Engine& engine,
                                               std::span<const LoglikelihoodRequest> requests,
                                               int max_batch_size) {
  if (max_batch_size < 1) throw_invalid("loglikelihood: max_batch_size must be >= 1");
  const ModelConfig& config = engine.config();
  const int64_t vocab = config.vocab_size;
  constexpr int64_t kMaxBatchTokens = 8192;
  std::vector<LoglikelihoodResult> results(requests.size());
  std::vector<std::vector<int32_t>> inputs(requests.size());  // context + continuation[:-1]
  std::vector<int64_t> context_len(requests.size());
  std::vector<size_t> order;
  for (size_t r = 0; r < requests.size(); ++r) {
    const std::string what = "loglikelihood request " + std::to_string(r);
    std::vector<int32_t> full = prompt_or_bos(requests[r].context, config, what);
    check_ids(full, config, what);
    check_ids(requests[r].continuation, config, what);
    context_len[r] = static_cast<int64_t>(full.size());
    full.insert(full.end(), requests[r].continuation.begin(), requests[r].continuation.end());
    if (static_cast<int64_t>(full.size()) > config.max_position_embeddings) {
      throw_invalid(what + ": context + continuation = " + std::to_string(full.size()) +
                    " positions exceed max_position_embeddings (" +
                    std::to_string(config.max_position_embeddings) + ")");
    }
    if (requests[r].continuation.empty()) {
      results[r].is_greedy = true;
      continue;
    }
    full.pop_back();
    inputs[r] = std::move(full);
    order.push_back(r);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return inputs[a].size() < inputs[b].size(); });

  guard_torch("loglikelihood", [&] {
    c10::InferenceMode guard;
    models::Transformer& model = engine.transformer();
    size_t begin = 0;
    while (begin < order.size()) {
      size_t end = begin + 1;
      int64_t width = static_cast<int64_t>(inputs[order[begin]].size());
      while (end < order.size() && static_cast<int64_t>(end - begin) < max_batch_size) {
        const int64_t w = std::max<int64_t>(width, inputs[order[end]].size());
        if (static_cast<int64_t>(end - begin + 1) * w > kMaxBatchTokens) break;
        width = w;
        ++end;
      }
      const int64_t rows = static_cast<int64_t>(end - begin);
      models::KvCache cache = model.make_cache(rows, width);
      models::SlotBatch sb;
      std::vector<int64_t> tokens(rows * width, 0);
      for (int64_t b = 0; b < rows; ++b) {
        const size_t r = order[begin + b];
        std::copy(inputs[r].begin(), inputs[r].end(), tokens.begin() + b * width);
        sb.start.push_back(0);
        sb.count.push_back(static_cast<int64_t>(inputs[r].size()));
        for (size_t j = 0; j < requests[r].continuation.size(); ++j)
          sb.logit_rows.push_back(b * width + context_len[r] - 1 + static_cast<int64_t>(j));
      }
      at::Tensor input =
          at::tensor(tokens, at::TensorOptions().dtype(at::kLong)).view({rows, width});
      const at::Tensor logits = model.forward_slots(input, cache, sb).to(at::kCPU).contiguous();
      const float* row = logits.data_ptr<float>();
      for (int64_t b = 0; b < rows; ++b) {
        const size_t r = order[begin + b];
        LoglikelihoodResult& out = results[r];
        out.is_greedy = true;
        for (int32_t target : requests[r].continuation) {
          const float* best = std::max_element(row, row + vocab);
          double sum = 0;
          for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(row[i]) - *best);
          const double lp = static_cast<double>(row[target]) - *best - std::log(sum);
          out.token_logprobs.push_back(static_cast<float>(lp));
          out.sum_logprob += lp;
          out.is_greedy = out.is_greedy && best - row == target;
          row += vocab;
        }
      }
      begin = end;
    }
    return 0;
  });
  return results;
}

}  // namespace assay::inference
