// What the served backends (`openai`, `sagemaker`) share: a Generator that sends one HTTP request
// per prompt through core's HttpClient (many in flight, retries with Retry-After, RPM/TPM limits),
// resends replies that cannot be read, counts tokens with the local tokenizer when the server
// reports none, and turns a request that fails for good into an explicit generation error. A
// backend only says how a request looks on its wire and how to read the reply (ServedWire).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/http_client.h"
#include "eval/generators/generator.h"

namespace assay::inference {
class Tokenizer;
}

namespace assay::eval {

// One answer as a server gave it.
struct ServedReply {
  std::string text;
  std::string finish_reason;  // "eos" | "stop" | "length" (mapped from the wire's own names)
  std::optional<std::size_t> prompt_tokens;
  std::optional<std::size_t> completion_tokens;
  std::string model;  // the model id the server reported; "" when none
};

// One backend's wire format.
class ServedWire {
 public:
  virtual ~ServedWire() = default;
  virtual std::string backend() const = 0;
  // Where requests go, for summary.json (no secrets).
  virtual nlohmann::json endpoint() const = 0;
  // Called once before the first request (e.g. to ask the server for its model id). Throws
  // assay::Error (remote) when the server cannot be reached.
  virtual void prepare(HttpClient& http) { (void)http; }
  // The HTTP request for one prompt; `seed` is the sample's own seed.
  virtual HttpRequest request(const GenerateRequest& r, std::uint64_t seed) = 0;
  // Reads a 2xx reply body; nullopt (with `why`) when it is not a valid reply.
  virtual std::optional<ServedReply> parse(const std::string& body, std::string& why) const = 0;
  // The server's message in a non-2xx reply body ("" when none can be read).
  virtual std::string error_message(const std::string& body) const;
  virtual bool renders_chat() const { return false; }
  // True for a non-2xx answer worth asking again in the next round, though its status is not one
  // HttpClient retries (SageMaker's throttling comes as HTTP 400 ThrottlingException).
  virtual bool retry_later(const HttpResponse& response) const {
    (void)response;
    return false;
  }
};

// The sample's seed for a server: a function of (run seed, sample id) only, below 2^63 (servers
// read it as a signed 64-bit integer).
std::uint64_t served_sample_seed(std::uint64_t run_seed, const std::string& id);

// The HttpClient options of the served backends, from generation.* settings.
HttpClientOptions served_http_options(const GenerationSettings& g);

// Builds the generator over `wire`. `http` null: a curl client from served_http_options.
// `tokenizer_dir` (the local model's, optional) counts tokens a server does not report and holds
// the chat template.
std::unique_ptr<Generator> make_served_generator(
    std::unique_ptr<ServedWire> wire, const GenerationSettings& settings,
    std::unique_ptr<HttpClient> http, std::optional<std::filesystem::path> tokenizer_dir);

// The local model's tokenizer folder when `model` is a folder with tokenizer files, else nullopt
// (a served backend needs no local model; a model.tar.gz is not unpacked for this).
std::optional<std::filesystem::path> local_tokenizer_dir(const std::filesystem::path& model);

}  // namespace assay::eval
