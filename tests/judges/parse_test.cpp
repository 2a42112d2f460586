// Rubric loading and reply parsing: misbehaving judge replies either parse completely or give a
// reason, never a default score.
#include "judges/parse.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "judges/openai_judge.h"
#include "judges/rubric.h"

namespace assay::judges {
namespace {

const Rubric& handbook() {
  static const Rubric r = load_rubric("handbook");
  return r;
}

TEST(RubricTest, HandbookRubricIsTheHandbooksPromptAndScale) {
  const Rubric& r = handbook();
  ASSERT_EQ(r.criteria.size(), 2u);
  EXPECT_EQ(r.criteria[0].name, "accuracy");
  EXPECT_EQ(r.criteria[1].name, "style");
  EXPECT_EQ(r.criteria[0].min, 1);
  EXPECT_EQ(r.criteria[0].max, 3);
  EXPECT_EQ(r.response_format, "json_object");
  EXPECT_EQ(r.max_tokens, 1000);
  // Sentences of the Handbook's evaluate.py prompt (commit 28a1ca0c).
  EXPECT_NE(r.user.find("Example of excellent style: Llama2 7B outperforms the original Llama "
                        "model across multiple benchmarks."),
            std::string::npos);
  EXPECT_NE(r.system.find("evaluates answers based on accuracy and style"), std::string::npos);
  std::string rendered =
      render_template(r.user, {{"instruction", "Q?"}, {"answer", "A {{reference}}"}});
  EXPECT_NE(rendered.find("Instruction: Q?\n\nAnswer: A {{reference}}"), std::string::npos);
}

TEST(RubricTest, AllBuiltinsLoadAndUnknownNamesSuggest) {
  for (const auto& name : builtin_rubric_names()) EXPECT_EQ(load_rubric(name).name, name);
  EXPECT_EQ(builtin_rubric_names().size(), 4u);
  try {
    load_rubric("handbok");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("handbook"), std::string::npos);
  }
  EXPECT_THROW(
      parse_rubric(nlohmann::json{{"name", "x"}, {"kind", "criteria"}, {"user", "{{answer}}"}},
                   "x.json"),
      Error);  // no criteria
}

TEST(RubricTest, JsonSchemaResponseFormatListsEveryCriterion) {
  Rubric r = handbook();
  r.response_format = "json_schema";
  auto rf = response_format_json(r);
  EXPECT_EQ(rf["type"], "json_schema");
  EXPECT_EQ(rf["json_schema"]["schema"]["required"], nlohmann::json({"accuracy", "style"}));
  EXPECT_EQ(rf["json_schema"]["schema"]["properties"]["style"]["properties"]["score"]["type"],
            "integer");
}

TEST(ParseTest, AcceptsFencedJsonWithProseAround) {
  auto p = parse_reply(handbook(),
                       "Sure!\n```json\n{\"accuracy\": {\"analysis\": \"ok {x}\", \"score\": 3},"
                       " \"style\": {\"analysis\": \"meh\", \"score\": 2}}\n```\nHope it helps {");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.scores[0].score, 3);
  EXPECT_EQ(p.scores[0].analysis, "ok {x}");
  EXPECT_EQ(p.scores[1].score, 2);
}

TEST(ParseTest, AcceptsScoresAsStringsAndKeyCase) {
  auto p = parse_reply(handbook(), R"({"Accuracy": {"score": "3"}, "style": {"score": "2/3"}})");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.scores[0].score, 3);
  EXPECT_EQ(p.scores[1].score, 2);
  auto bare = parse_reply(handbook(), R"({"accuracy": 1, "style": " 3 "})");
  ASSERT_TRUE(bare.ok) << bare.error;
  EXPECT_EQ(bare.scores[1].score, 3);
}

TEST(ParseTest, RejectsWhatCannotBeTrusted) {
  struct Case {
    const char* reply;
    const char* reason;
  } cases[] = {
      {R"({"accuracy": {"score": 7}, "style": {"score": 2}})", "out of range"},
      {R"({"accuracy": {"score": 0}, "style": {"score": 2}})", "out of range"},
      {R"({"accuracy": {"score": 2.5}, "style": {"score": 2}})", "not an integer"},
      {R"({"accuracy": {"score": "3/5"}, "style": {"score": 2}})", "out of 5"},
      {R"({"accuracy": {"score": "excellent"}, "style": {"score": 2}})", "not a number"},
      {R"({"accuracy": {"score": 3}})", "missing criterion 'style'"},
      {R"({"accuracy": {"analysis": "no score"}, "style": {"score": 2}})", "has no score"},
      {"The answer is good.", "no JSON object"},
      {R"({"accuracy": {"score": 3}, "style": {"score": 2})", "no JSON object"},  // truncated
  };
  for (const auto& c : cases) {
    auto p = parse_reply(handbook(), c.reply);
    EXPECT_FALSE(p.ok) << c.reply;
    EXPECT_TRUE(p.scores.empty());
    EXPECT_NE(p.error.find(c.reason), std::string::npos) << c.reply << " -> " << p.error;
  }
}

TEST(ParseTest, ReadsMtBenchRatingsAndPairwiseVerdicts) {
  Rubric single = load_rubric("mt_bench_single");
  auto p = parse_reply(single, "Good depth. Rating: [[7]]");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.scores[0].score, 7);
  EXPECT_EQ(p.scores[0].analysis, "Good depth. Rating:");
  EXPECT_EQ(parse_reply(single, "Rating: [4]").scores.at(0).score, 4);  // FastChat's fallback
  EXPECT_FALSE(parse_reply(single, "Rating: [[11]]").ok);
  EXPECT_FALSE(parse_reply(single, "Rating: eight").ok);

  Rubric pair = load_rubric("pairwise");
  EXPECT_EQ(parse_reply(pair, "B wins. [[B]]").verdict, 'B');
  EXPECT_EQ(parse_reply(pair, "[[C]]").verdict, 'C');
  EXPECT_FALSE(parse_reply(pair, "[[A]] no wait [[B]]").ok);
  EXPECT_FALSE(parse_reply(pair, "A is better").ok);
}

TEST(OpenAiRequestTest, BodyCarriesTheRubricsParameters) {
  struct NoHttp : HttpClient {
    void run(std::vector<HttpRequest>, const HttpDone&) override {}
    HttpStats stats() const override { return {}; }
  } http;
  OpenAiJudge judge({"http://x/v1/", "k", "gpt-4o-mini", {}}, http);
  Rubric r = handbook();
  r.seed = 42;
  ChatRequest req{nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}}), &r};
  auto body = nlohmann::json::parse(judge.request_body(req));
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["messages"][0]["content"], "hi");
  EXPECT_EQ(body["temperature"], 0.0);
  EXPECT_EQ(body["max_tokens"], 1000);
  EXPECT_EQ(body["seed"], 42);
  EXPECT_EQ(body["response_format"]["type"], "json_object");
  r.response_format = "json_schema";
  body = nlohmann::json::parse(judge.request_body(req));
  EXPECT_EQ(body["response_format"]["type"], "json_schema");
  Rubric single = load_rubric("mt_bench_single");
  req.rubric = &single;
  EXPECT_FALSE(nlohmann::json::parse(judge.request_body(req)).contains("response_format"));
}

TEST(OpenAiRequestTest, RepliesBecomeContentOrReasons) {
  HttpResponse ok;
  ok.status = 200;
  ok.attempts = 1;
  ok.body =
      R"({"choices":[{"message":{"role":"assistant","content":"{}"}}],"usage":{"prompt_tokens":12,"completion_tokens":3}})";
  ChatReply r = chat_reply_from(ok);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.content, "{}");
  EXPECT_EQ(r.prompt_tokens, 12);
  EXPECT_EQ(r.completion_tokens, 3);
  HttpResponse refused = ok;
  refused.body = R"({"choices":[{"message":{"role":"assistant","content":null,"refusal":"no"}}]})";
  EXPECT_FALSE(chat_reply_from(refused).ok);
  EXPECT_TRUE(chat_reply_from(refused).resend);
  HttpResponse bad = ok;
  bad.status = 401;
  bad.body = R"({"error":{"message":"Incorrect API key provided"}})";
  EXPECT_TRUE(chat_reply_from(bad).fatal);
  EXPECT_NE(chat_reply_from(bad).error.find("Incorrect API key"), std::string::npos);
  bad.status = 400;
  EXPECT_FALSE(chat_reply_from(bad).fatal);  // one bad request is that sample's problem
}

}  // namespace
}  // namespace assay::judges
