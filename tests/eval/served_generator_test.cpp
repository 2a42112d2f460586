// The served generators' shared driver and the OpenAI wire (eval/generators/served_generator.h,
// openai_generator.h) over an in-memory HttpClient: request bodies (greedy is temperature 0,
// stop, seed per sample, vLLM extras only when set), finish reasons (stop_reason string -> stop,
// none -> eos, length), token counts from usage, else the local tokenizer, else null; an
// unreadable reply asked again and then an explicit error; a refused request an error at once;
// cancellation answers nothing more. The HTTP behaviour itself (retries, Retry-After, timeouts)
// is core's, tested in tests/judges and end to end in tests/e2e.
#include "eval/generators/served_generator.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>

#include "core/error.h"
#include "eval/generators/openai_generator.h"

namespace assay::eval {
namespace {
using nlohmann::json;

const std::filesystem::path kStories = std::filesystem::path(ASSAY_SOURCE_DIR) /
                                       "models/stories260K";

// Answers each request with `respond(request, nth request overall)`; records what it was sent.
class ScriptedHttp final : public HttpClient {
 public:
  explicit ScriptedHttp(std::function<HttpResponse(const HttpRequest&, int)> respond)
      : respond_(std::move(respond)) {}
  void run(std::vector<HttpRequest> requests, const HttpDone& on_done) override {
    for (size_t i = 0; i < requests.size(); ++i) {
      sent.push_back(requests[i]);
      HttpResponse r = respond_(requests[i], static_cast<int>(sent.size()));
      if (!on_done(i, std::move(r))) {
        for (size_t j = i + 1; j < requests.size(); ++j) {
          HttpResponse c;
          c.cancelled = true;
          on_done(j, std::move(c));
        }
        return;
      }
    }
  }
  HttpStats stats() const override { return {}; }
  std::vector<HttpRequest> sent;

 private:
  std::function<HttpResponse(const HttpRequest&, int)> respond_;
};

HttpResponse ok(const json& body) {
  HttpResponse r;
  r.status = 200;
  r.attempts = 1;
  r.body = body.dump();
  return r;
}

json completion(const std::string& text, const std::string& finish, const json& stop_reason) {
  return {{"model", "served-m"},
          {"choices", {{{"index", 0}, {"text", text}, {"finish_reason", finish},
                        {"stop_reason", stop_reason}}}}};
}

GenerationSettings openai_settings() {
  GenerationSettings g;
  g.backend = "openai";
  g.base_url = "http://127.0.0.1:9/v1";
  g.served_model = "m";
  g.max_new_tokens = 12;
  g.stop = {"###"};
  g.seed = 5;
  return g;
}

std::vector<GenerateResult> generate(Generator& gen, const std::vector<GenerateRequest>& reqs,
                                     const std::atomic<bool>* cancel = nullptr) {
  std::vector<GenerateResult> out;
  gen.generate(reqs, [&](GenerateResult&& r) { out.push_back(std::move(r)); }, cancel);
  return out;
}

GenerateRequest request(const std::string& id, const std::string& prompt) {
  GenerateRequest r;
  r.id = id;
  r.prompt = prompt;
  return r;
}

TEST(OpenAiGenerator, SendsTheRunsSamplingAndMapsFinishReasons) {
  GenerationSettings g = openai_settings();
  auto http = std::make_unique<ScriptedHttp>([](const HttpRequest& q, int) {
    json body = json::parse(q.body);
    const std::string p = body["prompt"];
    if (p == "a") return ok(completion("x", "stop", "###"));
    if (p == "b") return ok(completion("y", "stop", nullptr));
    return ok(completion("z", "length", nullptr));
  });
  ScriptedHttp* sent = http.get();
  auto gen = make_served_generator(make_openai_wire(g), g, std::move(http), std::nullopt);
  auto results = generate(*gen, {request("s1", "a"), request("s2", "b"), request("s3", "c")});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].finish_reason, "stop");
  EXPECT_EQ(results[1].finish_reason, "eos");
  EXPECT_EQ(results[2].finish_reason, "length");
  EXPECT_EQ(results[0].text, "x");
  // No usage and no local tokenizer: the counts are unknown, not 0.
  EXPECT_FALSE(results[0].prompt_tokens.has_value());
  EXPECT_FALSE(results[0].completion_tokens.has_value());
  ASSERT_EQ(sent->sent.size(), 3u);
  EXPECT_EQ(sent->sent[0].url, "http://127.0.0.1:9/v1/completions");
  json body = json::parse(sent->sent[0].body);
  EXPECT_EQ(body["temperature"], 0.0);
  EXPECT_EQ(body["max_tokens"], 12);
  EXPECT_EQ(body["stop"], json::array({"###"}));
  EXPECT_EQ(body["model"], "m");
  EXPECT_FALSE(body.contains("top_k"));  // vLLM extras only when set
  EXPECT_FALSE(body.contains("repetition_penalty"));
  // The seed is the sample's: the same id gives the same seed, another id another one.
  EXPECT_EQ(body["seed"], served_sample_seed(5, "s1"));
  EXPECT_NE(served_sample_seed(5, "s1"), served_sample_seed(5, "s2"));
  EXPECT_NE(served_sample_seed(5, "s1"), served_sample_seed(6, "s1"));
  EXPECT_LT(served_sample_seed(5, "s1"), 1ull << 63);
  EXPECT_EQ(gen->describe()["server_model"], "served-m");
}

// A server that pads each prefill group to its longest prompt wastes least when requests of
// similar length arrive together: shortest first, ties in dataset order, each answer kept with
// its own id.
TEST(OpenAiGenerator, SendsTheShortestPromptsFirst) {
  GenerationSettings g = openai_settings();
  auto http = std::make_unique<ScriptedHttp>([](const HttpRequest& q, int) {
    return ok(completion("echo " + json::parse(q.body)["prompt"].get<std::string>(), "length",
                         nullptr));
  });
  ScriptedHttp* sent = http.get();
  auto gen = make_served_generator(make_openai_wire(g), g, std::move(http), std::nullopt);
  auto results = generate(*gen, {request("long", "aaaaa"), request("one", "b"),
                                 request("mid", "ccc"), request("one-too", "d")});
  ASSERT_EQ(sent->sent.size(), 4u);
  std::vector<std::string> order;
  for (const HttpRequest& q : sent->sent) order.push_back(json::parse(q.body)["prompt"]);
  EXPECT_EQ(order, (std::vector<std::string>{"b", "d", "ccc", "aaaaa"}));
  std::map<std::string, std::string> text;
  for (const GenerateResult& r : results) text[r.id] = r.text;
  EXPECT_EQ(text, (std::map<std::string, std::string>{
                      {"long", "echo aaaaa"}, {"one", "echo b"}, {"mid", "echo ccc"},
                      {"one-too", "echo d"}}));
}

TEST(OpenAiGenerator, ChatRequestsGoToChatCompletionsAsOneUserMessage) {
  GenerationSettings g = openai_settings();
  auto http = std::make_unique<ScriptedHttp>([](const HttpRequest&, int) {
    return ok({{"choices",
                {{{"message", {{"role", "assistant"}, {"content", "hi"}}},
                  {"finish_reason", "stop"}}}},
               {"usage", {{"prompt_tokens", 7}, {"completion_tokens", 1}}}});
  });
  ScriptedHttp* sent = http.get();
  auto gen = make_served_generator(make_openai_wire(g), g, std::move(http), std::nullopt);
  GenerateRequest r = request("s1", "What is 2+2?");
  r.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "What is 2+2?"}])");
  auto results = generate(*gen, {r});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].text, "hi");
  EXPECT_EQ(results[0].prompt_tokens, 7u);
  EXPECT_EQ(results[0].completion_tokens, 1u);
  EXPECT_EQ(sent->sent[0].url, "http://127.0.0.1:9/v1/chat/completions");
  EXPECT_EQ(json::parse(sent->sent[0].body)["messages"],
            json::parse(R"([{"role": "user", "content": "What is 2+2?"}])"));
}

TEST(OpenAiGenerator, TheLocalTokenizerCountsWhatTheServerDoesNotReport) {
  GenerationSettings g = openai_settings();
  auto http = std::make_unique<ScriptedHttp>(
      [](const HttpRequest&, int) { return ok(completion("Once upon a time", "length", nullptr)); });
  auto gen = make_served_generator(make_openai_wire(g), g, std::move(http),
                                   local_tokenizer_dir(kStories));
  auto results = generate(*gen, {request("s1", "Once upon a time")});
  ASSERT_EQ(results.size(), 1u);
  // stories260K's published example (models/stories260K/README.md): "Once upon a time" is the 4
  // ids 403 407 261 378, BOS added for the prompt.
  ASSERT_TRUE(results[0].prompt_tokens.has_value());
  ASSERT_TRUE(results[0].completion_tokens.has_value());
  EXPECT_EQ(*results[0].prompt_tokens, 5u);
  EXPECT_EQ(*results[0].completion_tokens, 4u);
  EXPECT_FALSE(local_tokenizer_dir("/nonexistent").has_value());
}

TEST(OpenAiGenerator, UnreadableRepliesAreAskedAgainThenBecomeAnError) {
  GenerationSettings g = openai_settings();
  auto http = std::make_unique<ScriptedHttp>([](const HttpRequest& q, int) {
    const std::string p = json::parse(q.body)["prompt"];
    HttpResponse r = ok(completion("fine", "stop", nullptr));
    if (p == "never") r.body = "{\"choices\": [";  // always cut
    return r;
  });
  ScriptedHttp* sent = http.get();
  auto gen = make_served_generator(make_openai_wire(g), g, std::move(http), std::nullopt);
  auto results = generate(*gen, {request("good", "ok"), request("bad", "never")});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].error.empty());
  EXPECT_EQ(results[1].id, "bad");
  EXPECT_EQ(results[1].finish_reason, "error");
  EXPECT_NE(results[1].error.find("no usable reply after 3 rounds"), std::string::npos)
      << results[1].error;
  EXPECT_EQ(sent->sent.size(), 4u);  // good once, bad three times
}

TEST(OpenAiGenerator, ARefusedRequestIsAnErrorNamingTheServersMessage) {
  GenerationSettings g = openai_settings();
  g.api_key = "sk-unit-secret-999";
  auto http = std::make_unique<ScriptedHttp>([](const HttpRequest&, int) {
    HttpResponse r;
    r.status = 400;
    r.attempts = 1;
    r.body = R"({"error": {"message": "prompt too long; your key sk-unit-secret-999"}})";
    return r;
  });
  ScriptedHttp* sent = http.get();
  auto gen = make_served_generator(make_openai_wire(g), g, std::move(http), std::nullopt);
  auto results = generate(*gen, {request("s1", "x")});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(results[0].error.find("HTTP 400: prompt too long"), std::string::npos)
      << results[0].error;
  EXPECT_EQ(results[0].error.find("sk-unit-secret-999"), std::string::npos) << results[0].error;
  ASSERT_EQ(sent->sent.size(), 1u);
  bool auth = false;
  for (const auto& [k, v] : sent->sent[0].headers) {
    auth |= k == "Authorization" && v == "Bearer sk-unit-secret-999";
  }
  EXPECT_TRUE(auth);
}

TEST(OpenAiGenerator, WithoutAModelIdItAsksTheServerAndRefusesAServerThatListsNone) {
  GenerationSettings g = openai_settings();
  g.served_model.clear();
  auto http = std::make_unique<ScriptedHttp>([](const HttpRequest& q, int) {
    if (q.method == "GET") return ok({{"data", {{{"id", "first-model"}}}}});
    EXPECT_EQ(json::parse(q.body)["model"], "first-model");
    return ok(completion("a", "stop", nullptr));
  });
  auto gen = make_served_generator(make_openai_wire(g), g, std::move(http), std::nullopt);
  EXPECT_EQ(generate(*gen, {request("s1", "x")}).size(), 1u);

  auto empty = std::make_unique<ScriptedHttp>(
      [](const HttpRequest&, int) { return ok({{"object", "list"}, {"data", json::array()}}); });
  auto gen2 = make_served_generator(make_openai_wire(g), g, std::move(empty), std::nullopt);
  try {
    generate(*gen2, {request("s1", "x")});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitRuntime);
    EXPECT_NE(std::string(e.what()).find("set generation.model"), std::string::npos) << e.what();
  }
}

TEST(OpenAiGenerator, CancelStopsAnsweringAtOnce) {
  GenerationSettings g = openai_settings();
  std::atomic<bool> cancel{false};
  auto http = std::make_unique<ScriptedHttp>([&](const HttpRequest&, int nth) {
    if (nth == 2) cancel = true;
    return ok(completion("a", "stop", nullptr));
  });
  auto gen = make_served_generator(make_openai_wire(g), g, std::move(http), std::nullopt);
  auto results = generate(*gen, {request("s1", "x"), request("s2", "y"), request("s3", "z")},
                          &cancel);
  EXPECT_EQ(results.size(), 2u);  // the one in flight when the stop came is kept; none after
}

}  // namespace
}  // namespace assay::eval
