#include "eval/generators/served_generator.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "core/error.h"
#include "core/log.h"
#include "inference/tokenizer.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Rounds of resending requests whose 2xx reply could not be read (a proxy cut the body, a server
// wrote half a JSON document). Transport failures and 429/5xx are retried inside HttpClient.
constexpr int kMalformedRounds = 3;

// Why a request failed for good, from its last response.
std::string failure_of(const HttpResponse& response, const ServedWire& wire) {
  if (response.status == 0) {
    return "no reply after " + std::to_string(response.attempts) + " attempts: " + response.error;
  }
  std::string message = wire.error_message(response.body);
  std::string why = "HTTP " + std::to_string(response.status);
  // AWS names the error in a header ("InvalidSignatureException:http://...").
  if (auto type = response.header("x-amzn-errortype"))
    why += " " + type->substr(0, type->find(':'));
  if (response.attempts > 1) why += " after " + std::to_string(response.attempts) + " attempts";
  return message.empty() ? why : why + ": " + message;
}

class ServedGenerator final : public Generator {
 public:
  ServedGenerator(std::unique_ptr<ServedWire> wire, const GenerationSettings& settings,
                  std::unique_ptr<HttpClient> http, std::optional<fs::path> tokenizer_dir)
      : wire_(std::move(wire)),
        settings_(settings),
        http_(std::move(http)),
        tokenizer_dir_(std::move(tokenizer_dir)) {}

  std::string name() const override { return wire_->backend(); }
  bool server_renders_chat() const override { return wire_->renders_chat(); }
  std::optional<fs::path> chat_template_dir() override { return tokenizer_dir_; }

  json describe() const override {
    json d = {{"backend", wire_->backend()}, {"endpoint", wire_->endpoint()}};
    if (!server_model_.empty()) d["server_model"] = server_model_;
    d["http"] = {{"attempts", http_->stats().attempts}, {"retries", http_->stats().retries}};
    return d;
  }

  void generate(std::span<const GenerateRequest> requests,
                const std::function<void(GenerateResult&&)>& on_result,
                const std::atomic<bool>* cancel) override {
    if (requests.empty()) return;
    wire_->prepare(*http_);
    load_tokenizer();
    // Shortest prompts first: a server that batches what it has (evaluate serve, TGI without
    // paged attention) pads each prefill to its longest prompt, and requests of similar length
    // then arrive together, as an in-process run admits them. Answers are written as they come.
    std::vector<size_t> pending(requests.size());
    std::iota(pending.begin(), pending.end(), size_t{0});
    std::vector<size_t> size(requests.size());
    for (size_t i = 0; i < size.size(); ++i) {
      size[i] = requests[i].chat() ? requests[i].messages.dump().size() : requests[i].prompt.size();
    }
    std::stable_sort(pending.begin(), pending.end(),
                     [&](size_t a, size_t b) { return size[a] < size[b]; });
    std::map<size_t, std::string> unreadable;  // request -> why its last reply was unreadable
    for (int round = 0; round < kMalformedRounds && !pending.empty(); ++round) {
      if (cancel != nullptr && cancel->load()) return;
      std::vector<HttpRequest> batch;
      for (size_t i : pending) {
        batch.push_back(
            wire_->request(requests[i], served_sample_seed(settings_.seed, requests[i].id)));
      }
      std::vector<size_t> again;
      http_->run(std::move(batch), [&](size_t k, HttpResponse&& response) {
        const GenerateRequest& r = requests[pending[k]];
        if (response.cancelled) return true;
        if (!response.ok() && wire_->retry_later(response) && round + 1 < kMalformedRounds) {
          unreadable[pending[k]] = failure_of(response, *wire_);
          again.push_back(pending[k]);
          return true;
        }
        if (!response.ok()) {
          on_result(failed(r, failure_of(response, *wire_)));
          return true;
        }
        std::string why;
        std::optional<ServedReply> reply = wire_->parse(response.body, why);
        if (!reply) {
          unreadable[pending[k]] = why;
          again.push_back(pending[k]);
          return true;
        }
        unreadable.erase(pending[k]);
        on_result(answered(r, std::move(*reply)));
        return cancel == nullptr || !cancel->load();
      });
      if (cancel != nullptr && cancel->load()) return;
      if (!again.empty()) {
        log::warn("resending requests whose replies could not be read or were throttled",
                  {{"requests", again.size()}, {"round", round + 1}});
      }
      pending = std::move(again);
    }
    for (size_t i : pending) {
      on_result(failed(requests[i], "no usable reply after " + std::to_string(kMalformedRounds) +
                                        " rounds: " + unreadable[i]));
    }
  }

 private:
  void load_tokenizer() {
    if (tokenizer_ != nullptr || !tokenizer_dir_) return;
    try {
      tokenizer_ = inference::Tokenizer::load(*tokenizer_dir_);
    } catch (const Error& e) {
      log::warn(
          "the local tokenizer cannot be loaded; tokens the server does not report stay "
          "uncounted",
          {{"folder", tokenizer_dir_->string()}, {"error", e.what()}});
      tokenizer_dir_.reset();
    }
  }

  GenerateResult answered(const GenerateRequest& r, ServedReply&& reply) {
    if (!reply.model.empty()) server_model_ = reply.model;
    GenerateResult out;
    out.id = r.id;
    out.text = log::redact(reply.text);
    out.finish_reason = std::move(reply.finish_reason);
    out.prompt_tokens = reply.prompt_tokens;
    out.completion_tokens = reply.completion_tokens;
    if (tokenizer_ != nullptr) {
      if (!out.prompt_tokens && !r.chat()) {
        out.prompt_tokens = inference::encode_prompt(*tokenizer_, r.prompt).size();
      }
      if (!out.completion_tokens) {
        out.completion_tokens = tokenizer_->encode(reply.text, /*add_special_tokens=*/false).size();
      }
    }
    return out;
  }

  static GenerateResult failed(const GenerateRequest& r, const std::string& why) {
    GenerateResult out;
    out.id = r.id;
    out.finish_reason = "error";
    out.error = log::redact(why);
    log::warn("a sample got no answer", {{"id", r.id}, {"error", out.error}});
    return out;
  }

  std::unique_ptr<ServedWire> wire_;
  const GenerationSettings& settings_;
  std::unique_ptr<HttpClient> http_;
  std::optional<fs::path> tokenizer_dir_;
  std::unique_ptr<inference::Tokenizer> tokenizer_;
  std::string server_model_;
};

}  // namespace

std::string ServedWire::error_message(const std::string& body) const {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    for (const char* key : {"error", "message", "Message", "detail"}) {
      if (!j.contains(key)) continue;
      const json& e = j[key];
      if (e.is_string()) return log::redact(e.get<std::string>());
      if (e.is_object() && e.contains("message") && e["message"].is_string())
        return log::redact(e["message"].get<std::string>());
    }
  }
  return log::redact(body.substr(0, 200));
}

namespace {
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

std::uint64_t served_sample_seed(std::uint64_t run_seed, const std::string& id) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 of the id
  for (unsigned char c : id) h = (h ^ c) * 0x100000001b3ull;
  return splitmix64(splitmix64(run_seed) ^ h) >> 1;
}

HttpClientOptions served_http_options(const GenerationSettings& g) {
  HttpClientOptions ho;
  ho.max_concurrency = g.max_concurrency;
  ho.timeout_s = g.timeout_s;
  ho.rpm = g.rpm;
  ho.tpm = g.tpm;
  ho.retry.max_retries = g.max_retries;
  // A generation run is as long as its slowest sample: no retry budget smaller than "every
  // request may retry" would keep the run whole through an endpoint's bad minute.
  ho.retry.budget_ratio = g.max_retries;
  return ho;
}

std::unique_ptr<Generator> make_served_generator(std::unique_ptr<ServedWire> wire,
                                                 const GenerationSettings& settings,
                                                 std::unique_ptr<HttpClient> http,
                                                 std::optional<fs::path> tokenizer_dir) {
  if (http == nullptr) http = make_curl_http_client(served_http_options(settings));
  return std::make_unique<ServedGenerator>(std::move(wire), settings, std::move(http),
                                           std::move(tokenizer_dir));
}

std::optional<fs::path> local_tokenizer_dir(const fs::path& model) {
  std::error_code ec;
  if (model.empty() || !fs::is_directory(model, ec)) return std::nullopt;
  for (const char* f : {"tokenizer.json", "tokenizer.model"}) {
    if (fs::exists(model / f, ec)) return model;
  }
  return std::nullopt;
}

}  // namespace assay::eval
