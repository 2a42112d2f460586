#include "eval/generators/sagemaker_generator.h"

#include "core/aws_credentials.h"
#include "core/aws_endpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sigv4.h"
#include "eval/generators/openai_generator.h"
#include "eval/generators/served_generator.h"
#include "eval/model_handle.h"

namespace assay::eval {
namespace {
using nlohmann::json;

// TGI's finish reasons in the local engine's words.
std::string tgi_finish_reason(const std::string& r) {
  if (r == "length") return "length";
  if (r == "eos_token") return "eos";
  if (r == "stop_sequence") return "stop";
  return r.empty() ? "unknown" : r;
}

// InvokeEndpoint on a SageMaker real-time endpoint: the TGI / LMI body {"inputs", "parameters"}
// or the OpenAI messages body, signed with SigV4 (service "sagemaker") per request.
class SageMakerWire final : public ServedWire {
 public:
  explicit SageMakerWire(const GenerationSettings& g)
      : g_(g), messages_(g.payload == "messages"), chat_(make_openai_wire(g)) {}

  std::string backend() const override { return "sagemaker"; }
  json endpoint() const override {
    return {{"endpoint", g_.endpoint},
            {"region", region_},
            {"payload", messages_ ? "messages" : "tgi"}};
  }
  bool renders_chat() const override { return messages_; }

  void prepare(HttpClient& http) override {
    if (!url_.empty()) return;
    const EnvLookup env = process_env();
    region_ = resolve_aws_region(env);
    if (region_.empty()) {
      throw_invalid("generation.backend is sagemaker but no AWS region is set (AWS_REGION, "
                    "AWS_DEFAULT_REGION or the profile's region)");
    }
    credentials_ = resolve_aws_credentials(env, &http);
    const AwsEndpoint base = resolve_aws_endpoint("sagemaker-runtime", region_, env);
    url_ = base.url + "/endpoints/" + aws_uri_encode(g_.endpoint, false) + "/invocations";
    log::info("generating with a SageMaker endpoint",
              {{"endpoint", g_.endpoint}, {"region", region_}, {"url", url_}});
  }

  HttpRequest request(const GenerateRequest& r, std::uint64_t seed) override {
    HttpRequest out;
    out.url = url_;
    out.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    out.body = (messages_ ? messages_body(r, seed) : tgi_body(r, seed)).dump();
    out.tokens = r.prompt.size() / 4 + static_cast<std::uint64_t>(g_.max_new_tokens);
    SigV4Options sign;
    sign.region = region_;
    sign.service = "sagemaker";
    sigv4_sign(out, credentials_, sign);
    return out;
  }

  std::optional<ServedReply> parse(const std::string& body, std::string& why) const override {
    if (messages_) return chat_->parse(body, why);
    json j = json::parse(body, nullptr, false);
    if (j.is_array() && !j.empty()) j = j[0];  // TGI answers a list of one
    if (!j.is_object() || !j.contains("generated_text") || !j["generated_text"].is_string()) {
      why = "no generated_text in the reply";
      return std::nullopt;
    }
    ServedReply reply;
    reply.text = j["generated_text"].get<std::string>();
    reply.finish_reason = "unknown";
    if (j.contains("details") && j["details"].is_object()) {
      const json& d = j["details"];
      reply.finish_reason = tgi_finish_reason(d.value("finish_reason", std::string()));
      if (d.contains("generated_tokens") && d["generated_tokens"].is_number_unsigned())
        reply.completion_tokens = d["generated_tokens"].get<std::size_t>();
      if (d.contains("prefill") && d["prefill"].is_array() && !d["prefill"].empty())
        reply.prompt_tokens = d["prefill"].size();
    }
    cut_at_stop(reply);
    return reply;
  }

  // Throttling (HTTP 400 ThrottlingException) and a model still loading are asked again.
  bool retry_later(const HttpResponse& response) const override {
    const std::string type = response.header("x-amzn-ErrorType").value_or("");
    for (const char* code : {"ThrottlingException", "ModelNotReadyException"}) {
      if (type.find(code) != std::string::npos || response.body.find(code) != std::string::npos)
        return true;
    }
    return false;
  }

  // SageMaker's own error shape: {"ErrorCode"/"__type", "Message"/"message"}, and a model
  // container's error carried as OriginalMessage.
  std::string error_message(const std::string& body) const override {
    json j = json::parse(body, nullptr, false);
    if (j.is_object()) {
      std::string message = j.value("OriginalMessage", j.value("Message", j.value("message", "")));
      std::string code = j.value("ErrorCode", j.value("__type", j.value("code", "")));
      if (!message.empty() || !code.empty()) {
        return log::redact(code.empty() ? message : code + ": " + message);
      }
    }
    return ServedWire::error_message(body);
  }

 private:
  json tgi_body(const GenerateRequest& r, std::uint64_t seed) const {
    json p = {{"max_new_tokens", g_.max_new_tokens},
              {"do_sample", g_.temperature > 0},
              {"details", true},
              {"return_full_text", false},
              {"seed", seed}};
    // TGI refuses temperature 0 and top_p 1: sent only when they sample.
    if (g_.temperature > 0) p["temperature"] = g_.temperature;
    if (g_.top_p < 1) p["top_p"] = g_.top_p;
    if (g_.top_k > 0) p["top_k"] = g_.top_k;
    if (g_.repetition_penalty != 1.0) p["repetition_penalty"] = g_.repetition_penalty;
    if (!g_.stop.empty()) p["stop"] = g_.stop;
    return {{"inputs", r.prompt}, {"parameters", p}};
  }

  json messages_body(const GenerateRequest& r, std::uint64_t seed) const {
    json body = {{"messages", json::array({{{"role", "user"}, {"content", r.prompt}}})},
                 {"max_tokens", g_.max_new_tokens},
                 {"temperature", g_.temperature},
                 {"top_p", g_.top_p},
                 {"seed", seed}};
    if (!g_.stop.empty()) body["stop"] = g_.stop;
    return body;
  }

  // TGI keeps the stop sequence at the end of generated_text; the local engine's text ends
  // before the first match.
  void cut_at_stop(ServedReply& reply) const {
    size_t best = std::string::npos;
    for (const std::string& s : g_.stop) best = std::min(best, reply.text.find(s));
    if (best != std::string::npos) {
      reply.text.resize(best);
      reply.finish_reason = "stop";
    }
  }

  const GenerationSettings& g_;
  bool messages_;
  std::unique_ptr<ServedWire> chat_;  // reads the messages form's replies
  std::string region_;
  std::string url_;
  AwsCredentials credentials_;
};

}  // namespace

std::unique_ptr<Generator> make_sagemaker_generator(const GeneratorContext& ctx) {
  return make_served_generator(std::make_unique<SageMakerWire>(ctx.settings.generation),
                               ctx.settings.generation, nullptr,
                               local_tokenizer_dir(ctx.model.path()));
}

}  // namespace assay::eval
