// The judge provider registry: the registered names, the unknown-name message with its
// suggestion, the per-provider validation, and that `openai` is built over the injected HTTP
// client with the shared settings.
#include "judges/registry.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "judges/rubric.h"

namespace assay::judges {
namespace {

std::string error_of(const JudgeSettings& s) {
  try {
    validate_judge_settings(s);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    return e.what();
  }
  return "";
}

JudgeSettings settings_for(const std::string& provider) {
  JudgeSettings s;
  s.provider = provider;
  s.model = "gpt-4o-mini";
  s.origins["judge.provider"] = "env JUDGE_PROVIDER";
  return s;
}

// Records what the provider sends and answers each request with one fixed chat completion.
class RecordingHttp final : public HttpClient {
 public:
  explicit RecordingHttp(HttpClientOptions options) : options(std::move(options)) {}
  void run(std::vector<HttpRequest> requests, const HttpDone& on_done) override {
    for (size_t i = 0; i < requests.size(); ++i) {
      sent.push_back(requests[i]);
      HttpResponse r;
      r.status = 200;
      r.attempts = 1;
      r.body = R"({"choices": [{"message": {"content": "fine"}}],
                  "usage": {"prompt_tokens": 3, "completion_tokens": 2}})";
      if (!on_done(i, std::move(r))) break;
    }
  }
  HttpStats stats() const override { return {}; }

  HttpClientOptions options;
  std::vector<HttpRequest> sent;
};

TEST(RegistryTest, ListsEveryProviderInOrder) {
  ASSERT_EQ(providers().size(), 4u);
  EXPECT_EQ(providers()[0].name, "openai");
  EXPECT_EQ(providers()[1].name, "anthropic");
  EXPECT_EQ(providers()[2].name, "bedrock");
  EXPECT_EQ(providers()[3].name, "dummy");
  for (const auto& p : providers()) {
    EXPECT_FALSE(p.description.empty()) << p.name;
    EXPECT_NE(p.validate, nullptr) << p.name;
    EXPECT_NE(p.create, nullptr) << p.name;
    EXPECT_EQ(find_provider(p.name), &p);
  }
  EXPECT_EQ(find_provider("none"), nullptr);  // the off switch is not a provider
  EXPECT_EQ(provider_choices(), "openai, anthropic, bedrock, dummy or none");
  EXPECT_EQ(provider_help().find("openai ("), 0u);
  EXPECT_TRUE(provider_help().ends_with("none (no judge)"));
}

TEST(RegistryTest, UnknownNameGivesTheChoicesAndASuggestion) {
  EXPECT_EQ(error_of(settings_for("opnai")),
            "judge.provider (from env JUDGE_PROVIDER): 'opnai' must be openai, anthropic, "
            "bedrock, dummy or none (did you mean 'openai'?)");
  // Nothing close: the message has no suggestion.
  EXPECT_EQ(error_of(settings_for("vertex-gemini")),
            "judge.provider (from env JUDGE_PROVIDER): 'vertex-gemini' must be openai, anthropic, "
            "bedrock, dummy or none");
  EXPECT_THROW(make_provider(settings_for("nonex")), Error);
  EXPECT_THROW(make_provider(settings_for("")), Error);  // no judge: nothing to build
}

TEST(RegistryTest, OpenaiWithoutAKeyFailsUnlessABaseUrlIsSet) {
  JudgeSettings s = settings_for("openai");
  EXPECT_EQ(error_of(s),
            "judge.provider is openai but no API key is set: set JUDGE_API_KEY or "
            "OPENAI_API_KEY (or judge.base_url for a local endpoint without a key)");
  s.base_url = "http://127.0.0.1:8000/v1";
  s.base_url_set = true;
  EXPECT_EQ(error_of(s), "");
  s.base_url = "127.0.0.1:8000/v1";
  s.origins["judge.base_url"] = "flag";
  EXPECT_EQ(error_of(s),
            "judge.base_url (from flag): '127.0.0.1:8000/v1' must start with http:// or https://");
  s = settings_for("openai");
  s.api_key = "sk-x";
  s.model.clear();
  EXPECT_EQ(error_of(s), "judge.model (from default) is empty");
  // The dummy needs neither key nor model.
  JudgeSettings d = settings_for("dummy");
  d.model.clear();
  EXPECT_EQ(error_of(d), "");
}

TEST(RegistryTest, SharedSettingsAreCheckedForEveryProviderAndForNone) {
  JudgeSettings s = settings_for("");
  s.max_concurrency = 0;
  EXPECT_EQ(error_of(s), "judge.max_concurrency (from default) must be 1..1024");
  s = settings_for("dummy");
  s.timeout_s = 0;
  EXPECT_EQ(error_of(s), "judge.timeout_s (from default) must be in (0, 3600]");
  s = settings_for("dummy");
  s.tpm = -1;
  EXPECT_EQ(error_of(s), "judge.tpm (from default) must be >= 0");
}

TEST(RegistryTest, OpenaiIsBuiltOverTheInjectedHttpClientWithTheSharedSettings) {
  JudgeSettings s = settings_for("openai");
  s.base_url = "http://judge.local/v1/";
  s.api_key = "sk-registry-test";
  s.max_concurrency = 7;
  s.max_retries = 2;
  s.timeout_s = 9;
  s.rpm = 60;
  s.prices["gpt-4o-mini"] = {1.0, 2.0};
  RecordingHttp* http = nullptr;
  ProviderDeps deps;
  deps.make_http = [&](const HttpClientOptions& o) {
    auto h = std::make_unique<RecordingHttp>(o);
    http = h.get();
    return h;
  };
  std::unique_ptr<ChatProvider> provider = make_provider(s, deps);
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(provider->name(), "openai");
  EXPECT_EQ(provider->model(), "gpt-4o-mini");
  EXPECT_EQ(http->options.max_concurrency, 7);
  EXPECT_EQ(http->options.retry.max_retries, 2);
  EXPECT_EQ(http->options.timeout_s, 9);
  EXPECT_EQ(http->options.rpm, 60);
  // 1M prompt tokens at $1 plus 1M completion tokens at $2.
  EXPECT_DOUBLE_EQ(provider->cost_usd(1000000, 1000000).value(), 3.0);

  Rubric rubric = load_rubric("handbook");
  std::vector<ChatRequest> requests = {
      {nlohmann::json::array({{{"role", "user"}, {"content", "q"}}}), &rubric}};
  int done = 0;
  provider->complete(requests, [&](size_t, ChatReply&& r) {
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.content, "fine");
    ++done;
    return true;
  });
  EXPECT_EQ(done, 1);
  ASSERT_EQ(http->sent.size(), 1u);
  EXPECT_EQ(http->sent[0].url, "http://judge.local/v1/chat/completions");  // trailing / dropped
  bool bearer = false;
  for (const auto& [k, v] : http->sent[0].headers) {
    bearer = bearer || (k == "Authorization" && v == "Bearer sk-registry-test");
  }
  EXPECT_TRUE(bearer);
}

TEST(RegistryTest, DummyIsBuiltOfflineWithoutAnHttpClient) {
  ProviderDeps deps;
  deps.make_http = [](const HttpClientOptions&) -> std::unique_ptr<HttpClient> {
    ADD_FAILURE() << "the dummy made an HTTP client";
    return nullptr;
  };
  std::unique_ptr<ChatProvider> provider = make_provider(settings_for("dummy"), deps);
  EXPECT_EQ(provider->name(), "dummy");
  EXPECT_EQ(provider->transport_retries(), 0u);
}

}  // namespace
}  // namespace assay::judges
