// The `bedrock` provider: Amazon Bedrock runtime, either the Converse API
// (POST /model/{modelId}/converse, any model) or InvokeModel with the Anthropic Messages body
// (POST /model/{modelId}/invoke, Claude models), chosen by judge.bedrock_api. Every request is
// signed with SigV4 (signing name "bedrock") with credentials from core's chain (environment,
// profile, the container/job role), signed afresh before each attempt. The model id may be a
// cross-region inference profile id ("us.anthropic...."); its ':' is percent-encoded in the path.
// Throttling (429 ThrottlingException), 408 and 5xx are retried by core's HttpClient; 403
// (AccessDeniedException, a wrong signature) stops the stage with the AWS error code and message.
#include "core/aws_credentials.h"
#include "core/aws_endpoint.h"
#include "core/aws_retry.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sigv4.h"
#include "judges/anthropic_judge.h"
#include "judges/http_reply.h"
#include "judges/registry.h"

namespace assay::judges {
using nlohmann::json;

namespace {

// The Anthropic Messages version InvokeModel takes for Claude on Bedrock.
constexpr const char* kBedrockAnthropicVersion = "bedrock-2023-05-31";

// The AWS error code of a response: x-amzn-ErrorType ("ThrottlingException:http://..."), else
// the body's __type ("com.amazon...#ThrottlingException") or code.
// The text of the first <tag>...</tag> in an XML error body ("" when none): gateways and
// emulators (moto) answer auth failures as <ErrorResponse><Error><Code>...</Code>.
std::string xml_field(const std::string& body, const std::string& tag) {
  const size_t open = body.find("<" + tag + ">");
  if (open == std::string::npos) return {};
  const size_t from = open + tag.size() + 2;
  const size_t close = body.find("</" + tag + ">", from);
  return close == std::string::npos ? std::string() : body.substr(from, close - from);
}

std::string aws_error_code(const HttpResponse& response, const json& body) {
  std::string code = response.header("x-amzn-ErrorType").value_or("");
  if (code.empty() && body.is_object()) {
    code = body.value("__type", body.value("code", std::string()));
  }
  if (code.empty()) code = xml_field(response.body, "Code");
  if (size_t colon = code.find(':'); colon != std::string::npos) code.resize(colon);
  if (size_t hash = code.rfind('#'); hash != std::string::npos) code = code.substr(hash + 1);
  return code;
}

std::string aws_error_message(const HttpResponse& response, const json& body) {
  if (!body.is_object()) return xml_field(response.body, "Message");
  return body.value("message", body.value("Message", std::string()));
}

// The Converse body: user/assistant messages as content blocks, system as a block list.
json converse_body(const ChatRequest& request) {
  json messages = json::array();
  json system = json::array();
  for (const json& m : request.messages) {
    const std::string role = m.value("role", std::string());
    const std::string text = m.value("content", std::string());
    if (role == "system") {
      system.push_back({{"text", text}});
    } else {
      messages.push_back({{"role", role}, {"content", json::array({{{"text", text}}})}});
    }
  }
  json body = {
      {"messages", std::move(messages)},
      {"inferenceConfig",
       {{"maxTokens", request.rubric->max_tokens}, {"temperature", request.rubric->temperature}}}};
  if (!system.empty()) body["system"] = std::move(system);
  return body;
}

ChatReply converse_reply_from(const HttpResponse& response, const json& body) {
  if (auto broken = not_json_reply(response, body)) return *broken;
  ChatReply r = reply_with_usage(response, body, "inputTokens", "outputTokens");
  bool has_text = false;
  const json* content = nullptr;
  if (body.contains("output") && body["output"].is_object() && body["output"].contains("message") &&
      body["output"]["message"].is_object() && body["output"]["message"].contains("content")) {
    content = &body["output"]["message"]["content"];
  }
  if (content != nullptr && content->is_array()) {
    for (const json& block : *content) {
      if (block.is_object() && block.contains("text") && block["text"].is_string()) {
        r.content += block["text"].get<std::string>();
        has_text = true;
      }
    }
  }
  return finish_text_reply(response, std::move(r), has_text,
                           "reply has no output.message.content[].text");
}

class BedrockJudge final : public ChatProvider {
 public:
  BedrockJudge(const JudgeSettings& s, std::unique_ptr<HttpClient> http, const EnvLookup& env)
      : settings_(s), converse_(s.bedrock_api == "converse"), http_(std::move(http)) {
    region_ = s.region.empty() ? resolve_aws_region(env) : s.region;
    if (region_.empty()) {
      throw_invalid(
          "judge.provider is bedrock but no AWS region is set: set judge.region (env "
          "JUDGE_REGION), AWS_REGION, AWS_DEFAULT_REGION or the profile's region");
    }
    credentials_ = resolve_aws_credentials(env, http_.get());
    std::string base = s.base_url_given_for_any_provider()
                           ? s.base_url
                           : resolve_aws_endpoint("bedrock-runtime", region_, env).url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    url_ =
        base + "/model/" + aws_uri_encode(s.model, false) + (converse_ ? "/converse" : "/invoke");
    log::register_url_secrets(base);
    log::info("judging with Amazon Bedrock", {{"model", s.model},
                                              {"region", region_},
                                              {"api", s.bedrock_api},
                                              {"url", log::redact_url(url_)},
                                              {"credentials", credentials_.source}});
  }

  std::string name() const override { return "bedrock"; }
  std::string model() const override { return settings_.model; }
  json parameters(const Rubric& rubric) const override {
    return {{"temperature", rubric.temperature},
            {"max_tokens", rubric.max_tokens},
            {"api", settings_.bedrock_api}};
  }

  void complete(const std::vector<ChatRequest>& requests, const ChatDone& on_done) override {
    std::vector<HttpRequest> out;
    out.reserve(requests.size());
    const HttpHeaders headers = {{"Content-Type", "application/json"},
                                 {"Accept", "application/json"}};
    for (const ChatRequest& r : requests) {
      json body = converse_ ? converse_body(r) : anthropic_messages_body(r);
      if (!converse_) body["anthropic_version"] = kBedrockAnthropicVersion;
      HttpRequest h;
      h.url = url_;
      h.body = body.dump();
      h.tokens = h.body.size() / 4 + static_cast<std::uint64_t>(r.rubric->max_tokens);
      // Signed before each attempt: a request that waited for the rate limit or a backoff
      // still carries a fresh X-Amz-Date (AWS refuses signatures older than 5 minutes).
      h.before_send = [this, headers](HttpRequest& req) {
        req.headers = headers;
        SigV4Options sign;
        sign.region = region_;
        sign.service = "bedrock";
        sign.encode_path_as_sent = true;  // the model id's ':' is %3A on the wire, %253A signed
        sigv4_sign(req, credentials_, sign);
      };
      h.before_send(h);  // an HttpClient that never calls before_send still sends it signed
      out.push_back(std::move(h));
    }
    http_->run(std::move(out), [&](size_t idx, HttpResponse&& response) {
      if (auto unanswered = unanswered_reply(response)) return on_done(idx, std::move(*unanswered));
      json body = json::parse(response.body, nullptr, false);
      if (!response.ok()) {
        const std::string code = aws_error_code(response, body);
        const std::string message = aws_error_message(response, body);
        ChatReply e = http_error_reply(response, code.empty()      ? message
                                                 : message.empty() ? code
                                                                   : code + ": " + message);
        // A throttling answer under another status (SageMaker-style 400) passes with time too.
        if (is_aws_throttling_error(response.status, code)) e.transient = true;
        return on_done(idx, std::move(e));
      }
      return on_done(idx, converse_ ? converse_reply_from(response, body)
                                    : anthropic_reply_from(response, body));
    });
  }

  std::optional<double> cost_usd(std::int64_t prompt_tokens,
                                 std::int64_t completion_tokens) const override {
    return cost_usd_of(settings_.prices, settings_.model, prompt_tokens, completion_tokens);
  }
  std::uint64_t transport_retries() const override { return http_->stats().retries; }
  void drain() override { http_->drain(); }

 private:
  JudgeSettings settings_;
  bool converse_;
  std::unique_ptr<HttpClient> http_;
  std::string region_;
  AwsCredentials credentials_;
  std::string url_;
};

void validate_bedrock(const JudgeSettings& s) {
  if (s.model.empty()) throw_invalid(s.label("judge.model") + " is empty");
  if (s.bedrock_api != "converse" && s.bedrock_api != "invoke") {
    throw_invalid(s.label("judge.bedrock_api") + ": '" + s.bedrock_api +
                  "' must be converse or invoke");
  }
  if (s.bedrock_api == "invoke" && s.model.find("anthropic.") == std::string::npos) {
    throw_invalid(
        s.label("judge.bedrock_api") +
        " is invoke, which sends the Anthropic Messages body, but judge.model '" + s.model +
        "' is not an Anthropic model id (anthropic.* or <geo>.anthropic.*): " + "use converse");
  }
  if (s.base_url_set && !s.base_url.starts_with("http://") && !s.base_url.starts_with("https://")) {
    throw_invalid(s.label("judge.base_url") + ": '" + s.base_url +
                  "' must start with http:// or https://");
  }
}

std::unique_ptr<ChatProvider> create_bedrock(const JudgeSettings& s, const ProviderDeps& deps) {
  return std::make_unique<BedrockJudge>(s, make_http_client(s, deps),
                                        deps.env ? deps.env : process_env());
}

}  // namespace

ProviderEntry bedrock_provider() {
  return {"bedrock", "Amazon Bedrock Converse or InvokeModel, signed with SigV4 (IAM, no key)",
          &validate_bedrock, &create_bedrock};
}

}  // namespace assay::judges
