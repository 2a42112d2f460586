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

// Each item's judgment from the state of its slots (repeats x orders per item): per repeat the
// parsed scores or the pairwise outcome of both orders; combined, the mean scores or the majority
// outcome. The first error of any slot fails the item.
std::vector<Judgment> judgments_of(const std::vector<SlotState>& slots, size_t n_items, int repeats,
                                   int orders) {
  std::vector<Judgment> out(n_items);
  const size_t per_item = static_cast<size_t>(repeats * orders);
  for (size_t i = 0; i < n_items; ++i) {
    Judgment& j = out[i];
    j.from_cache = true;
    for (size_t k = 0; k < per_item; ++k) {
      const SlotState& s = slots[i * per_item + k];
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
    std::map<std::string, int> votes;
    for (int r = 0; r < repeats; ++r) {
      const size_t base = i * per_item + static_cast<size_t>(r * orders);
      if (orders == 1) {
        j.repeat_scores.push_back(slots[base].parsed.scores);
        continue;
      }
      const char ab = slots[base].parsed.verdict, ba = flip(slots[base + 1].parsed.verdict);
      if (r == 0) {
        j.verdict_ab = ab;
        j.verdict_ba = ba;
      }
      j.repeat_outcomes.push_back(ab == 'A' && ba == 'A'   ? "win"
                                  : ab == 'B' && ba == 'B' ? "loss"
                                                           : "tie");
      ++votes[j.repeat_outcomes.back()];
    }
    if (orders == 1) {
      j.scores = j.repeat_scores.front();
      for (size_t c = 0; c < j.scores.size(); ++c) {
        double sum = 0;
        for (const auto& rs : j.repeat_scores) sum += rs[c].score;
        j.scores[c].score = sum / repeats;
      }
    } else {
      j.outcome = "tie";
      for (const auto& [outcome, count] : votes) {
        if (2 * count > repeats) j.outcome = outcome;
      }
    }
  }
  return out;
}

}  // namespace

JudgeRunner::JudgeRunner(Rubric rubric, ChatProvider& provider, JudgeCache* cache,
                         JudgeRunnerOptions options)
    : rubric_(std::move(rubric)), provider_(provider), cache_(cache), options_(options) {
  ASSAY_CHECK(options_.repeats >= 1);
}

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
  const int repeats = options_.repeats;
  // Repeat r asks with its own seed and is cached under its own key; repeat 0 is today's call.
  std::vector<Rubric> rubrics(static_cast<size_t>(repeats), rubric_);
  std::vector<json> params(static_cast<size_t>(repeats));
  for (int r = 0; r < repeats; ++r) {
    if (r > 0) rubrics[r].seed = rubric_.seed.value_or(0) + r;
    params[r] = provider_.parameters(rubrics[r]);
    if (r > 0) params[r]["repeat"] = r;
  }
  const std::uint64_t retries_before = provider_.transport_retries();
  // Slot (item, repeat, order) = (item * repeats + repeat) * orders + order.
  const size_t per_item = static_cast<size_t>(repeats * orders);
  std::vector<SlotState> slots(items.size() * per_item);
  std::vector<Call> round;
  for (size_t i = 0; i < items.size(); ++i) {
    for (int o = 0; o < orders; ++o) {
      json messages = render_messages(items[i], o);
      for (int r = 0; r < repeats; ++r)
        round.push_back({(i * repeats + r) * orders + o, 0, messages, ""});
    }
  }
  auto repeat_of = [&](size_t slot) { return static_cast<int>((slot / orders) % repeats); };
  std::optional<std::string> fatal;
  std::vector<Call> next;
  // Progress: an item is settled when each of its slots (repeats x orders) has a parsed reply or
  // a final error.
  std::vector<int> open_slots(items.size(), static_cast<int>(per_item));
  size_t settled = 0;
  auto settle = [&](size_t slot) {
    if (--open_slots[slot / per_item] == 0) ++settled;
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
      const int r = repeat_of(call.slot);
      call.key = JudgeCache::key(provider_.name(), provider_.model(), call.messages, params[r]);
      const bool bypass = options_.bypass_cache_ids.contains(items[call.slot / per_item].id);
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
        to_send.push_back({call.messages, &rubrics[r], r});
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

  return judgments_of(slots, items.size(), repeats, orders);
}

}  // namespace assay::judges
