// The judge runner with the OpenAI provider over the real curl client against the local fake
// server injecting every fault: every sample ends judged (with the server's scores) or with an
// explicit error, none is lost or judged twice, the cache makes a rerun free, usage and cost add
// up, pairwise judging controls position bias, and the key never leaks.
#include "judges/judge_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/http_client.h"
#include "core/log.h"
#include "judges/dummy_judge.h"
#include "judges/openai_judge.h"
#include "testing/fake_openai_server.h"

namespace assay::judges {
namespace {
namespace fs = std::filesystem;
using testing::FakeOpenAiServer;
using testing::FakeServerOptions;
using testing::Fault;

fs::path temp_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("assay_judges_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<JudgeItem> items(int n) {
  std::vector<JudgeItem> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({"s" + std::to_string(i), "SAMPLE-" + std::to_string(i) + ": what is LoRA?",
                   "Low-rank adapters.", "Low-rank adaptation.", ""});
  }
  return out;
}

HttpClientOptions client_options(int max_retries) {
  HttpClientOptions o;
  o.max_concurrency = 16;
  o.timeout_s = 1.0;
  o.retry.max_retries = max_retries;
  o.retry.base_delay_s = 0.01;
  o.retry.max_delay_s = 0.05;
  o.jitter_seed = 3;
  return o;
}

// Faults by sample: each kind of misbehaviour on the first request, some forever.
Fault storm(const testing::RequestInfo& info) {
  bool first = info.nth_for_sample == 1;
  switch (info.sample % 14) {
    case 0:
      return first ? Fault::k429 : Fault::kNone;
    case 1:
      return first ? Fault::k500 : Fault::kNone;
    case 2:
      return first ? Fault::k503 : Fault::kNone;
    case 3:
      return first ? Fault::kDrop : Fault::kNone;
    case 4:
      return first ? Fault::kHang : Fault::kNone;
    case 5:
      return first ? Fault::kTruncatedJson : Fault::kNone;
    case 6:
      return first ? Fault::kNonJsonContent : Fault::kNone;
    case 7:
      return Fault::kFencedJson;
    case 8:
      return Fault::kStringScores;
    case 9:
      return first ? Fault::kMissingCriterion : Fault::kNone;
    case 10:
      return Fault::kOutOfRange;  // never fixed: ends as a parse error
    case 11:
      return Fault::k503;  // never fixed: ends as an http error
    case 12:
      return Fault::kTruncatedJson;  // never fixed: ends as an envelope error
    default:
      return Fault::kNone;
  }
}

TEST(JudgeRunnerTest, FaultStormEndsEverySampleJudgedOrWithAReason) {
  FakeServerOptions so;
  so.retry_after_s = 0.3;
  so.hang_s = 2.0;
  so.fault = storm;
  FakeOpenAiServer server(so);
  const int n = 70, max_retries = 3;
  HttpClientOptions co = client_options(max_retries);
  co.retry.budget_ratio = 2.0;  // this storm fails ~40% of first tries; the budget has its own test
  auto http = make_curl_http_client(co);
  OpenAiJudge provider(
      {server.base_url(), "sk-test-key", "gpt-4o-mini", {{"gpt-4o-mini", {0.15, 0.60}}}}, *http);
  fs::path dir = temp_dir("storm");
  JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
  JudgeRunner runner(load_rubric("handbook"), provider, &cache);
  auto js = runner.judge(items(n));
  ASSERT_EQ(js.size(), static_cast<size_t>(n));  // none lost
  for (int i = 0; i < n; ++i) {
    const Judgment& j = js[i];
    int kind = i % 14;
    SCOPED_TRACE("sample " + std::to_string(i));
    EXPECT_LE(server.valid_judgments(i), 1) << "judged twice";
    if (kind == 10 || kind == 11 || kind == 12) {
      ASSERT_FALSE(j.ok);
      ASSERT_TRUE(j.error.has_value());
      EXPECT_TRUE(j.scores.empty());
      if (kind == 10) {
        EXPECT_EQ(j.error->kind, "parse");
        EXPECT_NE(j.error->reason.find("out of range"), std::string::npos) << j.error->reason;
        EXPECT_EQ(j.error->attempts, 2);  // the reply and one repair
        EXPECT_EQ(server.requests_for(i), 2);
        EXPECT_FALSE(j.error->transient);  // the cached reply would fail again
      } else if (kind == 11) {
        EXPECT_EQ(j.error->kind, "http");
        EXPECT_NE(j.error->reason.find("http 503"), std::string::npos) << j.error->reason;
        EXPECT_EQ(j.error->attempts, 1 + max_retries);
        EXPECT_EQ(server.requests_for(i), 1 + max_retries);  // retries within the limit
        EXPECT_TRUE(j.error->transient);
      } else {
        EXPECT_EQ(j.error->kind, "envelope");
        EXPECT_EQ(server.requests_for(i), 2);  // one resend of a broken body
        EXPECT_TRUE(j.error->transient);
      }
    } else {
      ASSERT_TRUE(j.ok) << (j.error ? j.error->reason : "");
      EXPECT_EQ(j.scores[0].score, FakeOpenAiServer::expected_accuracy(i));
      EXPECT_EQ(j.scores[1].score, FakeOpenAiServer::expected_style(i));
      EXPECT_EQ(server.valid_judgments(i), 1);
      if (kind == 13) EXPECT_EQ(server.requests_for(i), 1);
    }
  }
  const JudgeUsage& u = runner.usage();
  EXPECT_EQ(u.cache_hits, 0u);
  EXPECT_GT(u.retries, 0u);
  EXPECT_LE(static_cast<int>(server.requests()), n * (1 + max_retries) * 2);
  // Tokens: the provider's total covers every 200 the server sent with usage.
  EXPECT_GE(u.prompt_tokens, server.prompt_tokens_served());
  ASSERT_TRUE(u.cost_usd.has_value());
  EXPECT_NEAR(*u.cost_usd, (u.prompt_tokens * 0.15 + u.completion_tokens * 0.60) / 1e6, 1e-12);
}

TEST(JudgeRunnerTest, BypassedItemsAreSentAgainAndTheirNewRepliesReplaceTheCachedOnes) {
  FakeServerOptions so;
  std::atomic<bool> broken{true};
  so.fault = [&broken](const testing::RequestInfo& info) {
    return broken && info.sample == 1 ? Fault::kOutOfRange : Fault::kNone;
  };
  FakeOpenAiServer server(so);
  auto http = make_curl_http_client(client_options(0));
  OpenAiJudge provider({server.base_url(), "sk-test-key", "m", {}}, *http);
  fs::path dir = temp_dir("bypass");
  {
    JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
    JudgeRunner runner(load_rubric("handbook"), provider, &cache);
    auto js = runner.judge(items(3));
    ASSERT_FALSE(js[1].ok);
    EXPECT_EQ(js[1].error->kind, "parse");
    EXPECT_EQ(server.requests(), 4);  // sample 1: the reply and one repair
  }
  broken = false;
  {
    JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
    JudgeRunnerOptions ro;
    ro.bypass_cache_ids = {"s1"};
    JudgeRunner runner(load_rubric("handbook"), provider, &cache, ro);
    auto js = runner.judge(items(3));
    EXPECT_EQ(server.requests(), 5);
    EXPECT_EQ(runner.usage().calls, 1u);
    EXPECT_EQ(runner.usage().cache_hits, 2u);
    ASSERT_TRUE(js[1].ok) << js[1].error->reason;
    EXPECT_EQ(js[1].scores[0].score, FakeOpenAiServer::expected_accuracy(1));
  }
  // Reloaded, the cache answers with the new reply: nothing is sent.
  JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
  JudgeRunner runner(load_rubric("handbook"), provider, &cache);
  auto js = runner.judge(items(3));
  EXPECT_EQ(server.requests(), 5);
  EXPECT_EQ(runner.usage().calls, 0u);
  EXPECT_TRUE(js[1].ok);
}

TEST(JudgeRunnerTest, CachedJudgmentsAreReusedWithoutAnyCall) {
  FakeServerOptions so;
  so.fault = [](const testing::RequestInfo& info) {
    return info.sample % 3 == 0 && !info.repair ? Fault::kMissingCriterion : Fault::kNone;
  };
  FakeOpenAiServer server(so);
  auto http = make_curl_http_client(client_options(2));
  OpenAiJudge provider({server.base_url(), "sk-test-key", "m", {}}, *http);
  fs::path dir = temp_dir("cache");
  std::vector<Judgment> first;
  {
    JudgeCache cache(dir / "judge_cache.jsonl", dir / "shared");
    JudgeRunner runner(load_rubric("handbook"), provider, &cache);
    first = runner.judge(items(12));
    EXPECT_EQ(runner.usage().calls, 12u + 4u);          // 4 repairs
    EXPECT_FALSE(runner.usage().cost_usd.has_value());  // model "m" has no price
  }
  int served = server.requests();
  // Same run folder (a resumed run): every reply, repairs included, comes from the cache.
  {
    JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
    EXPECT_EQ(cache.size(), 16u);
    JudgeRunner runner(load_rubric("handbook"), provider, &cache);
    auto again = runner.judge(items(12));
    EXPECT_EQ(server.requests(), served);
    EXPECT_EQ(runner.usage().calls, 0u);
    EXPECT_EQ(runner.usage().cache_hits, 16u);
    for (size_t i = 0; i < again.size(); ++i) {
      ASSERT_TRUE(again[i].ok);
      EXPECT_TRUE(again[i].from_cache);
      EXPECT_EQ(again[i].scores[0].score, first[i].scores[0].score);
      EXPECT_EQ(again[i].scores[1].score, first[i].scores[1].score);
    }
  }
  // Another run folder with the shared cache: also free.
  {
    JudgeCache cache(dir / "other_run" / "judge_cache.jsonl", dir / "shared");
    JudgeRunner runner(load_rubric("handbook"), provider, &cache);
    runner.judge(items(12));
    EXPECT_EQ(server.requests(), served);
  }
  // A torn last line (a crash mid-write) is dropped, and only that judgment is asked again.
  {
    std::string text;
    {
      std::ifstream in(dir / "judge_cache.jsonl");
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    text.resize(text.size() - 10);  // cut into the last line
    std::ofstream(dir / "judge_cache.jsonl", std::ios::trunc) << text;
    JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
    EXPECT_EQ(cache.size(), 15u);
    JudgeRunner runner(load_rubric("handbook"), provider, &cache);
    auto again = runner.judge(items(12));
    EXPECT_EQ(runner.usage().calls, 1u);
    EXPECT_EQ(server.requests(), served + 1);
  }
}

TEST(JudgeRunnerTest, RejectedKeyStopsTheStageWithoutLeakingIt) {
  FakeOpenAiServer server(FakeServerOptions{});
  const std::string key = "sk-wrong-SECRET-0123456789";
  std::string logs;
  log::set_sink_for_testing(&logs);
  log::configure(log::Level::kDebug, log::Format::kJson);
  auto http = make_curl_http_client(client_options(2));
  OpenAiJudge provider({server.base_url(), key, "m", {}}, *http);
  JudgeRunner runner(load_rubric("handbook"), provider, nullptr);
  try {
    runner.judge(items(40));
    FAIL() << "expected a remote error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRemote);
    EXPECT_NE(std::string(e.what()).find("401"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find(key), std::string::npos);
  }
  log::set_sink_for_testing(nullptr);
  log::configure(log::Level::kInfo);
  EXPECT_EQ(logs.find(key), std::string::npos);
  EXPECT_LT(server.requests(), 40);  // stopped early, did not send all 40
  // The key did travel, as a bearer token, to the server.
  EXPECT_EQ(server.auth_headers().at(0), "Bearer " + key);
}

TEST(JudgeRunnerTest, PairwiseJudgesBothOrdersAndCountsDisagreementAsTie) {
  FakeOpenAiServer server(FakeServerOptions{});
  auto http = make_curl_http_client(client_options(1));
  OpenAiJudge provider({server.base_url(), "sk-test-key", "m", {}}, *http);
  JudgeRunner runner(load_rubric("pairwise"), provider, nullptr);
  std::vector<JudgeItem> it = {
      {"win", "SAMPLE-1", "BETTER answer", "", "plain answer"},
      {"loss", "SAMPLE-2", "plain answer", "", "BETTER answer"},
      {"tie", "SAMPLE-3", "plain", "", "plain too"},
      {"biased", "SAMPLE-4 POSITION-BIASED", "x", "", "y"},  // the server always says [[A]]
  };
  auto js = runner.judge(it);
  ASSERT_EQ(js.size(), 4u);
  for (const auto& j : js) ASSERT_TRUE(j.ok);
  EXPECT_EQ(js[0].outcome, "win");
  EXPECT_EQ(js[1].outcome, "loss");
  EXPECT_EQ(js[2].outcome, "tie");
  EXPECT_EQ(js[3].outcome, "tie");
  EXPECT_EQ(js[3].verdict_ab, 'A');
  EXPECT_EQ(js[3].verdict_ba, 'B');  // "A" in the swapped order means B is better
  EXPECT_EQ(server.requests(), 8);
  EXPECT_EQ(runner.usage().calls, 8u);
}

TEST(JudgeRunnerTest, ProgressCountsAnItemOnceBothPairwiseOrdersAreSettled) {
  FakeOpenAiServer server(FakeServerOptions{});
  auto http = make_curl_http_client(client_options(2));
  OpenAiJudge provider({server.base_url(), "sk-test-key", "m", {}}, *http);
  std::vector<std::pair<size_t, size_t>> calls;
  JudgeRunnerOptions ro;
  ro.on_progress = [&](size_t settled, size_t total) { calls.emplace_back(settled, total); };
  JudgeRunner runner(load_rubric("pairwise"), provider, nullptr, ro);
  std::vector<JudgeItem> it = {{"a", "SAMPLE-1", "BETTER answer", "", "plain answer"},
                               {"b", "SAMPLE-2", "plain answer", "", "BETTER answer"},
                               {"c", "SAMPLE-3", "plain", "", "plain too"}};
  runner.judge(it);
  ASSERT_EQ(calls.size(), 6u);  // one report per settled order (2 per item)
  size_t prev = 0;
  for (const auto& [settled, total] : calls) {
    EXPECT_EQ(total, 3u);
    EXPECT_GE(settled, prev);
    EXPECT_LE(settled, prev + 1);
    prev = settled;
  }
  EXPECT_EQ(calls.back().first, 3u);
  EXPECT_EQ(calls.front().first, 0u);  // the first settled order never completes an item
}

TEST(DummyJudgeTest, DeterministicInRangeAndLabelled) {
  DummyJudge dummy;
  Rubric r = load_rubric("handbook");
  JudgeRunner a(r, dummy, nullptr), b(r, dummy, nullptr);
  auto ja = a.judge(items(60));
  auto jb = b.judge(items(60));
  std::set<int> seen;
  for (size_t i = 0; i < ja.size(); ++i) {
    ASSERT_TRUE(ja[i].ok);
    EXPECT_EQ(ja[i].scores[0].score, jb[i].scores[0].score);
    EXPECT_GE(ja[i].scores[0].score, 1);
    EXPECT_LE(ja[i].scores[0].score, 3);
    EXPECT_NE(ja[i].scores[0].analysis.find("dummy"), std::string::npos);
    seen.insert(static_cast<int>(ja[i].scores[0].score));
  }
  EXPECT_EQ(seen.size(), 3u);  // the hash spreads over the scale
  EXPECT_EQ(dummy.name(), "dummy");
}

}  // namespace
}  // namespace assay::judges

namespace assay::judges {
namespace {

// Answers by repeat, and records what each request carried: repeat r scores every criterion
// 1 + r (criteria) or says A, A, B, ... (pairwise, in both orders: r = 2 is a loss for A).
class ScriptedProvider final : public ChatProvider {
 public:
  std::string name() const override { return "scripted"; }
  std::string model() const override { return "m"; }
  nlohmann::json parameters(const Rubric& rubric) const override {
    return {{"seed", rubric.seed.value_or(-1)}};
  }
  void complete(const std::vector<ChatRequest>& requests, const ChatDone& on_done) override {
    for (size_t i = 0; i < requests.size(); ++i) {
      const ChatRequest& r = requests[i];
      seen.emplace_back(r.repeat, r.rubric->seed.value_or(-1));
      ChatReply reply;
      reply.ok = true;
      reply.attempts = 1;
      if (r.rubric->kind == RubricKind::kPairwise) {
        // Order 1 swaps the answers, so "A" there is B's side: answer so both orders agree.
        const bool swapped =
            r.messages.dump().find("second-answer") < r.messages.dump().find("first-answer");
        const bool a_wins = r.repeat != 2;
        reply.content = std::string("[[") + ((a_wins != swapped) ? "A" : "B") + "]]";
      } else {
        const int s = 1 + r.repeat % 3;
        reply.content = nlohmann::json{{"accuracy", {{"analysis", "x"}, {"score", s}}},
                                       {"style", {{"analysis", "x"}, {"score", s}}}}
                            .dump();
      }
      on_done(i, std::move(reply));
    }
  }
  std::optional<double> cost_usd(std::int64_t, std::int64_t) const override { return 0.0; }
  std::uint64_t transport_retries() const override { return 0; }
  std::vector<std::pair<int, std::int64_t>> seen;  // (repeat, seed) of each request sent
};

TEST(JudgeRunnerRepeatsTest, EachRepeatHasItsSeedAndCacheKeyAndRepeatOneKeepsTodaysKeys) {
  ScriptedProvider provider;
  fs::path dir = temp_dir("repeats");
  Rubric rubric = load_rubric("handbook");
  const std::int64_t base = rubric.seed.value_or(0);
  {
    JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
    JudgeRunner runner(rubric, provider, &cache);  // repeats 1: today's requests and keys
    runner.judge(items(4));
    EXPECT_EQ(runner.usage().calls, 4u);
  }
  provider.seen.clear();
  JudgeRunnerOptions ro;
  ro.repeats = 3;
  {
    JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
    JudgeRunner runner(rubric, provider, &cache, ro);
    auto js = runner.judge(items(4));
    // Repeat 0 comes from the cache the run without repeats wrote; 1 and 2 are asked.
    EXPECT_EQ(runner.usage().cache_hits, 4u);
    EXPECT_EQ(runner.usage().calls, 8u);
    ASSERT_EQ(provider.seen.size(), 8u);
    for (const auto& [repeat, seed] : provider.seen) {
      EXPECT_TRUE(repeat == 1 || repeat == 2);
      EXPECT_EQ(seed, base + repeat);
    }
    for (const auto& j : js) {
      ASSERT_TRUE(j.ok);
      ASSERT_EQ(j.repeat_scores.size(), 3u);
      EXPECT_EQ(j.repeat_scores[0][0].score, 1);
      EXPECT_EQ(j.repeat_scores[1][0].score, 2);
      EXPECT_EQ(j.repeat_scores[2][0].score, 3);
      EXPECT_DOUBLE_EQ(j.scores[0].score, 2.0);  // the mean of 1, 2, 3
    }
  }
  {
    JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
    JudgeRunner runner(rubric, provider, &cache, ro);
    runner.judge(items(4));
    EXPECT_EQ(runner.usage().calls, 0u);  // every repeat is cached under its own key
    EXPECT_EQ(runner.usage().cache_hits, 12u);
  }
}

TEST(JudgeRunnerRepeatsTest, PairwiseOutcomeIsTheMajorityOfTheRepeats) {
  ScriptedProvider provider;
  JudgeRunnerOptions ro;
  ro.repeats = 3;
  JudgeRunner runner(load_rubric("pairwise"), provider, nullptr, ro);
  auto js = runner.judge({{"x", "q", "first-answer", "", "second-answer"}});
  ASSERT_TRUE(js[0].ok);
  EXPECT_EQ(js[0].repeat_outcomes, (std::vector<std::string>{"win", "win", "loss"}));
  EXPECT_EQ(js[0].outcome, "win");
  EXPECT_EQ(provider.seen.size(), 6u);  // 3 repeats x 2 orders
}

}  // namespace
}  // namespace assay::judges
