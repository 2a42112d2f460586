// The `anthropic` and `bedrock` providers (Converse and InvokeModel), built through the registry
// over core's curl client, against the local fake server speaking each wire format and injecting
// faults (429 with Retry-After / ThrottlingException, 500, 503, Anthropic's 529, a hang past the
// timeout, a dropped connection, broken JSON): every sample ends judged with the server's scores
// or with a reason, none is judged twice, usage comes from the provider's own fields and is priced
// from the built-in table (a Bedrock inference profile id priced as its model); a refused key or
// AccessDeniedException stops the stage naming the error and leaking no secret. Also the cost cap:
// judging stops at judge.max_cost_usd without throwing away a reply paid for, the rest end as
// transient "budget" errors, and a rerun with a higher cap judges them paying nothing twice.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/http_client.h"
#include "core/log.h"
#include "judges/judge_runner.h"
#include "judges/registry.h"
#include "testing/fake_openai_server.h"
#include "tests/support/temp_dir.h"

namespace assay::judges {
namespace {
namespace fs = std::filesystem;
using testing::FakeOpenAiServer;
using testing::FakeServerOptions;
using testing::Fault;
using testing::Wire;

const std::string kAnthropicKey = "sk-ant-SECRET-5f4e3d2c1b";
const std::string kAccessKeyId = "AKIDPROVIDERTEST";
const std::string kSecretKey = "wJalrXUtnFEMI/SECRET/bPxRfiCYPROVIDERKEY";
const std::string kSessionToken = "IQoJb3JpZ2luX2VjSESSIONTOKENSECRET";

std::vector<JudgeItem> items(int n) {
  std::vector<JudgeItem> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({"s" + std::to_string(i), "SAMPLE-" + std::to_string(i) + ": what is LoRA?",
                   "Low-rank adapters.", "Low-rank adaptation.", ""});
  }
  return out;
}

struct WireCase {
  Wire wire;
  std::string name;                        // for the test name
  std::string provider;                    // judge.provider
  std::string model;                       // judge.model
  double input_per_mtok, output_per_mtok;  // its list price (independent of the code's table)
};

// How gtest (and ctest's test names) show a case.
void PrintTo(const WireCase& c, std::ostream* os) {
  *os << c.name;
}

// The settings and deps that point `c`'s provider at `server`, with a fast retry policy.
struct ProviderSetup {
  JudgeSettings settings;
  ProviderDeps deps;
};

ProviderSetup setup_for(const WireCase& c, const FakeOpenAiServer& server, int max_retries = 3) {
  ProviderSetup s;
  s.settings.provider = c.provider;
  s.settings.model = c.model;
  s.settings.max_concurrency = 16;
  s.settings.timeout_s = 1.0;
  s.settings.max_retries = max_retries;
  s.settings.prices = default_judge_prices();
  const std::string host = "http://127.0.0.1:" + std::to_string(server.port());
  std::map<std::string, std::string> env = {{"AWS_ACCESS_KEY_ID", kAccessKeyId},
                                            {"AWS_SECRET_ACCESS_KEY", kSecretKey},
                                            {"AWS_SESSION_TOKEN", kSessionToken},
                                            {"AWS_REGION", "us-west-2"}};
  if (c.wire == Wire::kAnthropic) {
    s.settings.api_key = kAnthropicKey;
    s.settings.base_url = server.base_url();  // ".../v1": the provider adds /messages
    s.settings.base_url_set = true;
  } else if (c.wire == Wire::kBedrockConverse) {
    env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = host;  // as the AWS SDKs take it
  } else {
    s.settings.bedrock_api = "invoke";
    s.settings.base_url = host;  // judge.base_url overrides the endpoint too
    s.settings.base_url_set = true;
  }
  s.deps.env = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  s.deps.make_http = [](const HttpClientOptions& options) {
    HttpClientOptions o = options;
    o.retry.base_delay_s = 0.01;
    o.retry.max_delay_s = 0.05;
    o.retry.budget_ratio = 2.0;
    o.jitter_seed = 5;
    return make_curl_http_client(o);
  };
  return s;
}

FakeServerOptions server_options(const WireCase& c) {
  FakeServerOptions so;
  so.wire = c.wire;
  so.api_key = c.wire == Wire::kAnthropic ? kAnthropicKey : kAccessKeyId;
  so.retry_after_s = 0.3;
  so.hang_s = 2.0;
  return so;
}

// Faults by sample on the first request; samples 7 and 8 fail forever.
Fault storm(const testing::RequestInfo& info) {
  const bool first = info.nth_for_sample == 1;
  switch (info.sample % 10) {
    case 0:
      return first ? Fault::k429 : Fault::kNone;
    case 1:
      return first ? Fault::k500 : Fault::kNone;
    case 2:
      return first ? Fault::kOverloaded : Fault::kNone;  // Anthropic 529, Bedrock 503
    case 3:
      return first ? Fault::kDrop : Fault::kNone;
    case 4:
      return first ? Fault::kHang : Fault::kNone;
    case 5:
      return first ? Fault::kTruncatedJson : Fault::kNone;
    case 7:
      return Fault::kOverloaded;  // never recovers: a transient http error
    case 8:
      return Fault::kTruncatedJson;  // never recovers: an envelope error
    default:
      return Fault::kNone;
  }
}

class ProvidersTest : public ::testing::TestWithParam<WireCase> {};

TEST_P(ProvidersTest, FaultStormEndsEverySampleJudgedOrWithAReasonAndPricesTheUsage) {
  const WireCase& c = GetParam();
  FakeServerOptions so = server_options(c);
  so.fault = storm;
  FakeOpenAiServer server(so);
  ProviderSetup s = setup_for(c, server);
  validate_judge_settings(s.settings);
  auto provider = make_provider(s.settings, s.deps);
  EXPECT_EQ(provider->name(), c.provider);
  JudgeRunner runner(load_rubric("handbook"), *provider, nullptr);
  const int n = 40, max_retries = 3;
  auto js = runner.judge(items(n));
  ASSERT_EQ(js.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    SCOPED_TRACE("sample " + std::to_string(i));
    const Judgment& j = js[i];
    EXPECT_LE(server.valid_judgments(i), 1) << "judged twice";
    if (i % 10 == 7) {
      ASSERT_FALSE(j.ok);
      EXPECT_EQ(j.error->kind, "http");
      const std::string want = c.wire == Wire::kAnthropic
                                   ? "http 529 after 4 attempts: overloaded_error: Overloaded"
                                   : "http 503 after 4 attempts: ServiceUnavailableException: "
                                     "Overloaded";
      EXPECT_EQ(j.error->reason, want);
      EXPECT_EQ(server.requests_for(i), 1 + max_retries);
      EXPECT_TRUE(j.error->transient);
    } else if (i % 10 == 8) {
      ASSERT_FALSE(j.ok);
      EXPECT_EQ(j.error->kind, "envelope");
      EXPECT_EQ(server.requests_for(i), 2);  // one resend of a broken body
      EXPECT_TRUE(j.error->transient);
    } else {
      ASSERT_TRUE(j.ok) << (j.error ? j.error->reason : "");
      EXPECT_EQ(j.scores[0].score, FakeOpenAiServer::expected_accuracy(i));
      EXPECT_EQ(j.scores[1].score, FakeOpenAiServer::expected_style(i));
      EXPECT_EQ(server.valid_judgments(i), 1);
      if (i % 10 == 9 || i % 10 == 6) {
        EXPECT_EQ(server.requests_for(i), 1);
      }
    }
  }
  const JudgeUsage& u = runner.usage();
  EXPECT_GT(u.retries, 0u);
  // Usage from the provider's own fields: the server's prompt tokens for every valid 200 (the
  // broken-body replies carry none that parse), 20 completion tokens each.
  EXPECT_EQ(u.prompt_tokens, server.prompt_tokens_served());
  int valid = 0;
  for (const auto& [sample, count] : server.valid_judgments_all()) valid += count;
  EXPECT_EQ(u.completion_tokens, static_cast<std::int64_t>(valid) * 20);
  ASSERT_TRUE(u.cost_usd.has_value());
  EXPECT_NEAR(*u.cost_usd,
              (static_cast<double>(u.prompt_tokens) * c.input_per_mtok +
               static_cast<double>(u.completion_tokens) * c.output_per_mtok) /
                  1e6,
              1e-12);
  if (c.provider == "bedrock") {
    // The model id (an inference profile with ':') is percent-encoded in the path.
    const std::string path =
        std::string("POST /model/us.anthropic.claude-3-haiku-20240307-v1%3A0/") +
        (c.wire == Wire::kBedrockConverse ? "converse" : "invoke");
    for (const std::string& target : server.targets()) EXPECT_EQ(target, path);
  }
}

TEST_P(ProvidersTest, RefusedCredentialsStopTheStageNamingTheErrorWithoutLeakingSecrets) {
  const WireCase& c = GetParam();
  FakeServerOptions so = server_options(c);
  so.fault = [](const testing::RequestInfo&) { return Fault::k401; };
  FakeOpenAiServer server(so);
  ProviderSetup s = setup_for(c, server, 2);
  std::string logs;
  log::set_sink_for_testing(&logs);
  log::configure(log::Level::kDebug, log::Format::kJson);
  std::string message;
  try {
    auto provider = make_provider(s.settings, s.deps);
    JudgeRunner runner(load_rubric("handbook"), *provider, nullptr);
    runner.judge(items(30));
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRemote);
    message = e.what();
  }
  log::set_sink_for_testing(nullptr);
  log::configure(log::Level::kInfo);
  const std::string want =
      c.wire == Wire::kAnthropic
          ? "http 401 after 1 attempts: authentication_error: invalid x-api-key"
          : "http 403 after 1 attempts: AccessDeniedException: User: "
            "arn:aws:iam::123456789012:user/t is not authorized to perform: "
            "bedrock:InvokeModel";
  EXPECT_NE(message.find("judge " + c.provider + " refused the request: " + want),
            std::string::npos)
      << message;
  EXPECT_LT(server.requests(), 30);
  for (const std::string& secret : {kAnthropicKey, kSecretKey, kSessionToken}) {
    EXPECT_EQ(message.find(secret), std::string::npos);
    EXPECT_EQ(logs.find(secret), std::string::npos) << secret;
  }
}

INSTANTIATE_TEST_SUITE_P(Wires, ProvidersTest,
                         ::testing::Values(
                             // Anthropic list price for Claude 3.5 Haiku: $0.80 / $4 per 1M tokens.
                             WireCase{Wire::kAnthropic, "anthropic", "anthropic",
                                      "claude-3-5-haiku-20241022", 0.80, 4.00},
                             // Bedrock list price for Claude 3 Haiku: $0.25 / $1.25 per 1M tokens,
                             // same through the cross-region inference profile.
                             WireCase{Wire::kBedrockConverse, "bedrock_converse", "bedrock",
                                      "us.anthropic.claude-3-haiku-20240307-v1:0", 0.25, 1.25},
                             WireCase{Wire::kBedrockInvoke, "bedrock_invoke", "bedrock",
                                      "us.anthropic.claude-3-haiku-20240307-v1:0", 0.25, 1.25}),
                         [](const ::testing::TestParamInfo<WireCase>& info) {
                           return info.param.name;
                         });

TEST(ProvidersTest, BedrockWithoutARegionOrCredentialsIsAClearError) {
  JudgeSettings s;
  s.provider = "bedrock";
  s.model = "anthropic.claude-3-haiku-20240307-v1:0";
  ProviderDeps deps;
  deps.env = [](const std::string&) { return std::nullopt; };
  try {
    make_provider(s, deps);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("no AWS region"), std::string::npos) << e.what();
  }
  s.bedrock_api = "invoke";
  s.model = "amazon.nova-pro-v1:0";
  try {
    validate_judge_settings(s);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not an Anthropic model id"), std::string::npos);
  }
}

TEST(ProvidersTest, PriceTableKnowsInferenceProfilesAndTheCapNeedsAPrice) {
  const auto& prices = default_judge_prices();
  // Published list prices (USD per 1M input / output tokens).
  ASSERT_NE(find_price(prices, "gpt-4o-mini"), nullptr);
  EXPECT_EQ(find_price(prices, "gpt-4o-mini")->input_per_mtok, 0.15);
  EXPECT_EQ(find_price(prices, "eu.anthropic.claude-3-5-sonnet-20240620-v1:0")->output_per_mtok,
            15.0);
  EXPECT_EQ(find_price(prices, "claude-3-haiku-20240307")->input_per_mtok, 0.25);
  EXPECT_EQ(find_price(prices, "no-such-model"), nullptr);
  EXPECT_EQ(find_price(prices, "us.no-such-model"), nullptr);
  // 1,000 prompt + 500 completion tokens of gpt-4o: 1000*2.5/1e6 + 500*10/1e6 = 0.0075 USD.
  EXPECT_NEAR(*cost_usd_of(prices, "gpt-4o", 1000, 500), 0.0075, 1e-15);

  JudgeSettings s;
  s.provider = "openai";
  s.api_key = "k";
  s.model = "my-finetuned-judge";
  s.max_cost_usd = 1.0;
  s.prices = prices;
  try {
    validate_judge_settings(s);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("judge.max_cost_usd (from default) needs a price for "
                                         "judge model 'my-finetuned-judge'"),
              std::string::npos)
        << e.what();
  }
  s.prices["my-finetuned-judge"] = {1.0, 2.0};
  EXPECT_NO_THROW(validate_judge_settings(s));
}

// The cap: stop at judge.max_cost_usd, keep every reply paid for, rerun with a higher cap.
TEST(ProvidersTest, CostCapStopsJudgingKeepsPaidRepliesAndARerunWithAHigherCapPaysNothingTwice) {
  FakeServerOptions so;
  so.wire = Wire::kAnthropic;
  so.api_key = kAnthropicKey;
  so.delay_ms = 20;
  FakeOpenAiServer server(so);
  WireCase c{Wire::kAnthropic, "anthropic", "anthropic", "claude-x", 0, 0};
  ProviderSetup s = setup_for(c, server);
  s.settings.max_concurrency = 4;
  // Priced so that one call costs exactly 1 USD: 20 completion tokens at 50,000 USD per 1M; the
  // prompt is free. A cap of 10 USD is reached by the 10th reply.
  s.settings.prices = {{"claude-x", {0.0, 50000.0}}};
  s.settings.max_cost_usd = 10.0;
  validate_judge_settings(s.settings);
  const testing::TempDir tmp;
  const fs::path dir = tmp.path();
  const int n = 60;
  int judged_first = 0;
  {
    auto provider = make_provider(s.settings, s.deps);
    JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
    JudgeRunnerOptions ro;
    ro.max_cost_usd = s.settings.max_cost_usd;
    JudgeRunner runner(load_rubric("handbook"), *provider, &cache, ro);
    auto js = runner.judge(items(n));
    EXPECT_TRUE(runner.budget_reached());
    int budget = 0;
    for (const Judgment& j : js) {
      if (j.ok) {
        ++judged_first;
      } else {
        ASSERT_EQ(j.error->kind, "budget") << j.error->reason;
        EXPECT_TRUE(j.error->transient);
        EXPECT_NE(j.error->reason.find("judge.max_cost_usd 10 reached"), std::string::npos)
            << j.error->reason;
        ++budget;
      }
    }
    // The 10th reply reaches the cap; at most the 3 others then in flight finish, and each reply
    // the server sent (each one paid for) was used: none thrown away.
    EXPECT_GE(judged_first, 10);
    EXPECT_LE(judged_first, 10 + 3);
    EXPECT_EQ(server.requests(), judged_first);
    EXPECT_EQ(budget, n - judged_first);
    EXPECT_EQ(runner.usage().calls, static_cast<std::uint64_t>(judged_first));
    EXPECT_NEAR(*runner.usage().cost_usd, judged_first * 1.0, 1e-9);
  }
  {
    // The rerun with a higher cap: cached replies are free, the rest are sent once.
    auto provider = make_provider(s.settings, s.deps);
    JudgeCache cache(dir / "judge_cache.jsonl", std::nullopt);
    JudgeRunnerOptions ro;
    ro.max_cost_usd = 1000.0;
    JudgeRunner runner(load_rubric("handbook"), *provider, &cache, ro);
    auto js = runner.judge(items(n));
    for (const Judgment& j : js) EXPECT_TRUE(j.ok);
    EXPECT_FALSE(runner.budget_reached());
    EXPECT_EQ(runner.usage().cache_hits, static_cast<std::uint64_t>(judged_first));
    EXPECT_EQ(runner.usage().calls, static_cast<std::uint64_t>(n - judged_first));
    EXPECT_EQ(server.requests(), n);
    for (int i = 0; i < n; ++i) EXPECT_EQ(server.valid_judgments(i), 1) << "paid twice: " << i;
  }
}

}  // namespace
}  // namespace assay::judges
