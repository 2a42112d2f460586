#include "eval/generators/openai_generator.h"

#include "core/error.h"
#include "core/log.h"
#include "eval/generators/served_generator.h"
#include "eval/model_handle.h"
#include "judges/openai_judge.h"

namespace assay::eval {
namespace {
using nlohmann::json;

// The OpenAI wire: /v1/completions for a prompt Assay rendered, /v1/chat/completions for a
// message the server renders with its own chat template.
class OpenAiWire final : public ServedWire {
 public:
  explicit OpenAiWire(const GenerationSettings& g) : g_(g), model_(g.served_model) {
    log::register_secret(g_.api_key);
    log::register_url_secrets(g_.base_url);
  }

  std::string backend() const override { return "openai"; }
  json endpoint() const override {
    return {{"base_url", log::redact_url(g_.base_url)}, {"model", model_}};
  }
  bool renders_chat() const override { return true; }

  // Without generation.model, the server's first model (vLLM, TGI and `evaluate serve` serve one).
  void prepare(HttpClient& http) override {
    if (!model_.empty()) return;
    HttpRequest get;
    get.method = "GET";
    get.url = judges::openai_url(g_.base_url, "/models");
    add_auth(get);
    HttpResponse response = send_one(http, get);
    const std::string where = log::redact_url(get.url);
    if (!response.ok()) {
      throw Error(ErrorKind::kRemote,
                  "generation.model is not set and " + where + " did not list the served models (" +
                      (response.status == 0 ? response.error
                                            : "HTTP " + std::to_string(response.status) + ": " +
                                                  error_message(response.body)) +
                      "); set generation.model (GEN_MODEL)");
    }
    json j = json::parse(response.body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array() || j["data"].empty() ||
        !j["data"][0].is_object() || !j["data"][0].contains("id") ||
        !j["data"][0]["id"].is_string()) {
      throw Error(ErrorKind::kRemote, where +
                                          " did not list a model ({\"data\": [{\"id\": ...}]}); "
                                          "set generation.model (GEN_MODEL)");
    }
    model_ = j["data"][0]["id"].get<std::string>();
    log::info("generating with the server's model", {{"model", model_}});
  }

  HttpRequest request(const GenerateRequest& r, std::uint64_t seed) override {
    json body = {{"model", model_},
                 {"max_tokens", g_.max_new_tokens},
                 {"temperature", g_.temperature},
                 {"top_p", g_.top_p},
                 {"seed", seed},
                 {"n", 1},
                 {"stream", false}};
    if (!g_.stop.empty()) body["stop"] = g_.stop;
    // vLLM's sampling extras, sent only when set (OpenAI itself rejects unknown fields).
    if (g_.top_k > 0) body["top_k"] = g_.top_k;
    if (g_.min_p > 0) body["min_p"] = g_.min_p;
    if (g_.repetition_penalty != 1.0) body["repetition_penalty"] = g_.repetition_penalty;
    HttpRequest out;
    if (r.chat) {
      body["messages"] = json::array({{{"role", "user"}, {"content", r.prompt}}});
      out.url = judges::openai_url(g_.base_url, "/chat/completions");
    } else {
      body["prompt"] = r.prompt;
      out.url = judges::openai_url(g_.base_url, "/completions");
    }
    out.headers.emplace_back("Content-Type", "application/json");
    add_auth(out);
    out.body = body.dump();
    out.tokens = r.prompt.size() / 4 + static_cast<std::uint64_t>(g_.max_new_tokens);
    return out;
  }

  std::optional<ServedReply> parse(const std::string& body, std::string& why) const override {
    json j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() ||
        j["choices"].empty() || !j["choices"][0].is_object()) {
      why = "no choices[0] in the reply";
      return std::nullopt;
    }
    const json& c = j["choices"][0];
    ServedReply reply;
    if (c.contains("text") && c["text"].is_string()) {
      reply.text = c["text"].get<std::string>();
    } else if (c.contains("message") && c["message"].is_object() &&
               c["message"].contains("content") && c["message"]["content"].is_string()) {
      reply.text = c["message"]["content"].get<std::string>();
    } else {
      why = "choices[0] has neither text nor message.content";
      return std::nullopt;
    }
    const std::string finish = c.value("finish_reason", std::string());
    if (finish == "length") {
      reply.finish_reason = "length";
    } else if (finish == "stop") {
      // vLLM and `evaluate serve` name the stop string that ended the answer; none means EOS.
      const bool by_string = c.contains("stop_reason") && c["stop_reason"].is_string();
      reply.finish_reason = by_string ? "stop" : "eos";
    } else {
      reply.finish_reason = finish.empty() ? "unknown" : finish;
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const json& u = j["usage"];
      if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_unsigned())
        reply.prompt_tokens = u["prompt_tokens"].get<std::size_t>();
      if (u.contains("completion_tokens") && u["completion_tokens"].is_number_unsigned())
        reply.completion_tokens = u["completion_tokens"].get<std::size_t>();
    }
    if (j.contains("model") && j["model"].is_string()) reply.model = j["model"].get<std::string>();
    return reply;
  }

 private:
  void add_auth(HttpRequest& r) const {
    if (!g_.api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + g_.api_key);
  }

  const GenerationSettings& g_;
  std::string model_;
};

}  // namespace

std::unique_ptr<ServedWire> make_openai_wire(const GenerationSettings& settings) {
  return std::make_unique<OpenAiWire>(settings);
}

std::unique_ptr<Generator> make_openai_generator(const GeneratorContext& ctx) {
  return make_served_generator(make_openai_wire(ctx.settings.generation), ctx.settings.generation,
                               nullptr, local_tokenizer_dir(ctx.model.path()));
}

}  // namespace assay::eval
