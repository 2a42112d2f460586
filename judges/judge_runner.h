// The judge stage for a batch of answers: renders each rubric prompt, answers what it can from
// the judge cache, sends the rest through a ChatProvider concurrently, stores every reply in the
// cache before using it, parses it (one repair request when a reply does not parse), and counts
// calls, cache hits, retries, tokens and cost. Per-sample failures are values (JudgeError).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "judges/judge_cache.h"
#include "judges/parse.h"
#include "judges/provider.h"
#include "judges/rubric.h"

namespace assay::judges {

// One answer to judge. For pairwise rubrics `answer` is A and `answer_b` is B.
struct JudgeItem {
  std::string id;
  std::string instruction;  // the question (instruction and input, already joined)
  std::string answer;
  std::string reference;  // "" when the dataset has none
  std::string answer_b;   // pairwise only
};

struct JudgeError {
  std::string reason;  // one line, no secrets: "http 503 after 7 attempts: ...", "missing ..."
  std::string kind;    // "http", "transport", "envelope", "parse", "cancelled", "budget"
  int attempts = 0;    // model calls made for this sample (HTTP attempts, repairs included)
  // Asking again later may succeed (transport, 408/429/5xx, broken body, cancelled); false for
  // parse errors and refusals, whose replies or answers would repeat. Failures are never cached,
  // so a rerun sends transient ones again; a parse error's replies are cached.
  bool transient = false;
};

struct Judgment {
  bool ok = false;
  // Criteria/rating rubrics: with repeats, each criterion's score is the mean over the repeats
  // (analysis: the first repeat's).
  std::vector<CriterionScore> scores;
  // Pairwise: the verdict in each order from A's side ('A' = A better, 'B', 'C' tie) and the
  // combined outcome: "win" (A better in both), "loss" (B better in both), "tie" (otherwise).
  char verdict_ab = 0, verdict_ba = 0;
  // With repeats: the majority outcome over the repeats ("tie" when no outcome has a majority);
  // verdict_ab/verdict_ba are the first repeat's.
  std::string outcome;
  // Per repeat (size judge.repeats when ok): the scores (criteria/rating) or outcomes (pairwise).
  std::vector<std::vector<CriterionScore>> repeat_scores;
  std::vector<std::string> repeat_outcomes;
  std::optional<JudgeError> error;  // set when !ok (any repeat or order failed)
  int attempts = 0;                 // model calls made (cached replies count as calls made)
  bool from_cache = false;          // every reply came from the cache
};

struct JudgeUsage {
  std::uint64_t calls = 0;       // requests sent to the provider (repairs included; requests
                                 // cancelled before they were sent are not counted)
  std::uint64_t cache_hits = 0;  // replies taken from the cache instead
  std::uint64_t retries = 0;     // HTTP retries plus repair/resend requests
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::optional<double> cost_usd;  // nullopt when the model has no price
};

struct JudgeRunnerOptions {
  // How often each question is asked (judge.repeats, >= 1). Repeat r > 0 sends seed
  // rubric.seed (or 0) + r and is cached under its own key (the call parameters plus
  // "repeat": r); repeat 0 keeps the keys of a run without repeats.
  int repeats = 1;
  int max_repairs = 1;  // extra requests after an unparsable reply or a broken body (0: none)
  // Called on judge()'s thread each time an item is settled (judged, or failed for good), with
  // the items settled so far and the total. Empty: no progress reports.
  std::function<void(size_t settled, size_t total)> on_progress;
  // Ids of items whose cached replies are ignored: they are sent again and the new replies
  // replace the cached ones (e.g. to retry parse errors). Empty: the cache answers everything
  // it holds.
  std::unordered_set<std::string> bypass_cache_ids;
  // Cost cap in USD for this runner's calls (priced by the provider's cost_usd). Once reached,
  // nothing new is sent, requests on the wire finish and are used, and every item still
  // unanswered gets a transient JudgeError of kind "budget" (a rerun with a higher cap sends
  // it; cached replies cost nothing again). 0, or a model without a price: no cap.
  double max_cost_usd = 0;
};

class JudgeRunner {
 public:
  // `provider` and `cache` must outlive the runner; `cache` may be null (no caching).
  JudgeRunner(Rubric rubric, ChatProvider& provider, JudgeCache* cache,
              JudgeRunnerOptions options = {});

  // Judges every item; returns one Judgment per item, in order. Throws assay::Error (remote)
  // when the endpoint refuses every request (401/403/404), naming the status and the
  // endpoint's message; replies already received stay in the cache.
  std::vector<Judgment> judge(const std::vector<JudgeItem>& items);

  const JudgeUsage& usage() const { return usage_; }
  // True once the cost of the calls made reached options.max_cost_usd.
  bool budget_reached() const { return budget_reached_; }
  const Rubric& rubric() const { return rubric_; }

  // The messages for one item (order 1 swaps A and B for pairwise). Exposed for tests.
  nlohmann::json render_messages(const JudgeItem& item, int order) const;

 private:
  Rubric rubric_;
  ChatProvider& provider_;
  JudgeCache* cache_;
  JudgeRunnerOptions options_;
  JudgeUsage usage_;
  bool budget_reached_ = false;
};

}  // namespace assay::judges
