#include "judges/judge_runner.h"

#include <cstdio>
#include <map>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"

namespace assay::judges {
using nlohmann::json;

namespace {

// One request for one (item, order), in round 0 (first try) or a later round (repair/resend).
struct Call {
  size_t slot = 0;  // item * orders + order
  int round = 0;
  json messages;
  std::string key;
};

struct SlotState {
  bool done = false;
  ParsedReply parsed;
  std::optional<JudgeError> error;
  int attempts = 0;
  bool all_cached = true;
};

char flip(char verdict) {
  return verdict == 'A' ? 'B' : verdict == 'B' ? 'A' : verdict;
}

// Each item's judgment from the state of its slots (one per order): the parsed scores, the
// pairwise outcome of both orders, or the first error.
std::vector<Judgment> judgments_of(const std::vector<SlotState>& slots, size_t n_items,
                                   int orders) {
  std::vector<Judgment> out(n_items);
  for (size_t i = 0; i < n_items; ++i) {
    Judgment& j = out[i];
    j.from_cache = true;
    for (int o = 0; o < orders; ++o) {
      const SlotState& s = slots[i * orders + o];
      j.attempts += s.attempts;
      j.from_cache = j.from_cache && s.all_cached;
      if (!s.done && !j.error) {
        j.error = s.error ? *s.error : JudgeError{"no reply", "cancelled", s.attempts, true};
      }
    }
    if (j.error) {
      j.error->attempts = j.attempts;
      continue;
    }
    j.ok = true;
    if (orders == 1) {
      j.scores = slots[i].parsed.scores;
    } else {
      j.verdict_ab = slots[2 * i].parsed.verdict;
      j.verdict_ba = flip(slots[2 * i + 1].parsed.verdict);
      j.outcome = j.verdict_ab == 'A' && j.verdict_ba == 'A'   ? "win"
                  : j.verdict_ab == 'B' && j.verdict_ba == 'B' ? "loss"
                                                               : "tie";
    }
  }
  return out;
}

}  // namespace

JudgeRunner::JudgeRunner(Rubric rubric, ChatProvider& provider, JudgeCache* cache,
                         JudgeRunnerOptions options)
    : rubric_(std::move(rubric)), provider_(provider), cache_(cache), options_(options) {}

json JudgeRunner::render_messages(const JudgeItem& item, int order) const {
  std::map<std::string, std::string> vars = {
      {"instruction", item.instruction},
      {"answer", item.answer},
      {"reference", item.reference},
      {"answer_a", order == 0 ? item.answer : item.answer_b},
      {"answer_b", order == 0 ? item.answer_b : item.answer}};
  json messages = json::array();
  if (!rubric_.system.empty())
    messages.push_back({{"role", "system"}, {"content", rubric_.system}});
  messages.push_back({{"role", "user"}, {"content", render_template(rubric_.user, vars)}});
  return messages;
}

std::vector<Judgment> JudgeRunner::judge(const std::vector<JudgeItem>& items) {
  const int orders = rubric_.kind == RubricKind::kPairwise ? 2 : 1;
  const json params = provider_.parameters(rubric_);
  const std::uint64_t retries_before = provider_.transport_retries();
  std::vector<SlotState> slots(items.size() * orders);
  std::vector<Call> round;
  for (size_t i = 0; i < items.size(); ++i) {
    for (int o = 0; o < orders; ++o)
      round.push_back({i * orders + o, 0, render_messages(items[i], o), ""});
  }
  std::optional<std::string> fatal;
  std::vector<Call> next;
  // Progress: an item is settled when each of its orders has a parsed reply or a final error.
  std::vector<int> open_orders(items.size(), orders);
  size_t settled = 0;
  auto settle = [&](size_t slot) {
    if (--open_orders[slot / orders] == 0) ++settled;
    if (options_.on_progress) options_.on_progress(settled, items.size());
  };

  auto use_content = [&](const Call& call, const std::string& content, bool cached, int attempts) {
    SlotState& s = slots[call.slot];
    s.attempts += cached ? 1 : attempts;
    s.all_cached = s.all_cached && cached;
    ParsedReply parsed = parse_reply(rubric_, content);
    if (parsed.ok) {
      s.done = true;
      s.parsed = std::move(parsed);
      settle(call.slot);
    } else if (call.round < options_.max_repairs) {
      json messages = call.messages;
      messages.push_back({{"role", "assistant"}, {"content", content}});
      messages.push_back(
          {{"role", "user"},
           {"content", "Your previous reply could not be used (" + parsed.error +
                           "). Reply again with " + format_instructions(rubric_) + "."}});
      next.push_back({call.slot, call.round + 1, std::move(messages), ""});
    } else {
      s.error = JudgeError{
          "unparsable reply after " + std::to_string(call.round + 1) + " replies: " + parsed.error,
          "parse", s.attempts, false};
      settle(call.slot);
    }
  };
  // The cost cap: checked after every reply; once reached nothing new goes out.
  auto spent = [&] { return provider_.cost_usd(usage_.prompt_tokens, usage_.completion_tokens); };
  auto cap_reached = [&] {
    if (options_.max_cost_usd <= 0) return false;
    std::optional<double> cost = spent();
    return cost && *cost >= options_.max_cost_usd;
  };
  budget_reached_ = budget_reached_ || cap_reached();
  auto over_budget = [&](const Call& call) {
    SlotState& s = slots[call.slot];
    s.all_cached = false;
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "not sent: judge.max_cost_usd %g reached (%.4f USD spent by this run)",
                  options_.max_cost_usd, spent().value_or(0.0));
    s.error = JudgeError{reason, "budget", s.attempts, true};
    settle(call.slot);
  };
  auto use_failure = [&](const Call& call, const ChatReply& reply) {
    SlotState& s = slots[call.slot];
    s.attempts += reply.attempts;
    s.all_cached = false;
    if (reply.resend && call.round < options_.max_repairs) {
      next.push_back({call.slot, call.round + 1, call.messages, ""});
    } else {
      s.error = JudgeError{reply.error, reply.error_kind, s.attempts, reply.transient};
      settle(call.slot);
    }
  };

  while (!round.empty() && !fatal) {
    next.clear();
    std::vector<ChatRequest> to_send;
    std::vector<std::string> send_keys;
    std::map<std::string, std::vector<size_t>> waiting;  // key -> calls in `round`
    for (size_t c = 0; c < round.size(); ++c) {
      Call& call = round[c];
      call.key = JudgeCache::key(provider_.name(), provider_.model(), call.messages, params);
      const bool bypass = options_.bypass_cache_ids.contains(items[call.slot / orders].id);
      const json* hit = cache_ != nullptr && !bypass ? cache_->find(call.key) : nullptr;
      if (hit != nullptr) {
        ++usage_.cache_hits;
        use_content(call, hit->value("content", std::string()), true, 0);
        continue;
      }
      if (budget_reached_) {
        over_budget(call);
        continue;
      }
      auto [it, fresh] = waiting.try_emplace(call.key);
      it->second.push_back(c);
      if (fresh) {  // identical prompts are sent once
        to_send.push_back({call.messages, &rubric_});
        send_keys.push_back(call.key);
      }
    }
    provider_.complete(to_send, [&](size_t idx, ChatReply&& reply) {
      if (reply.attempts > 0) ++usage_.calls;  // 0: cancelled before it was sent
      usage_.prompt_tokens += reply.prompt_tokens;
      usage_.completion_tokens += reply.completion_tokens;
      if (!budget_reached_ && cap_reached()) {
        budget_reached_ = true;
        provider_.drain();  // what is on the wire finishes; the rest comes back cancelled
      }
      const std::vector<size_t>& calls = waiting[send_keys[idx]];
      if (round[calls.front()].round > 0 && reply.attempts > 0) ++usage_.retries;
      if (reply.fatal) {
        fatal = reply.error;
        return false;
      }
      if (reply.ok) {
        if (cache_ != nullptr) {
          cache_->put({{"key", send_keys[idx]},
                       {"provider", provider_.name()},
                       {"model", provider_.model()},
                       {"rubric", rubric_.name},
                       {"content", reply.content},
                       {"usage",
                        {{"prompt_tokens", reply.prompt_tokens},
                         {"completion_tokens", reply.completion_tokens}}},
                       {"created", utc_now_iso()}});
        }
        for (size_t c : calls) use_content(round[c], reply.content, false, reply.attempts);
      } else if (budget_reached_ && reply.error_kind == "cancelled") {
        for (size_t c : calls) over_budget(round[c]);
      } else {
        for (size_t c : calls) use_failure(round[c], reply);
      }
      return true;
    });
    round.swap(next);
  }
  if (cache_ != nullptr) cache_->sync();
  usage_.retries += provider_.transport_retries() - retries_before;
  usage_.cost_usd = provider_.cost_usd(usage_.prompt_tokens, usage_.completion_tokens);
  if (fatal) {
    throw Error(ErrorKind::kRemote, "judge " + provider_.name() + " refused the request: " +
                                        *fatal + " (replies received so far are cached)");
  }

  return judgments_of(slots, items.size(), orders);
}

}  // namespace assay::judges
