// `evaluate serve`: an OpenAI-compatible HTTP server (cpp-httplib) over the in-process engine.
// /v1/completions, /v1/chat/completions, /v1/models and /health. Requests that arrive together
// share batches (EngineQueue). max_tokens, temperature, top_p, seed and stop are honoured (and
// vLLM's top_k, min_p, repetition_penalty); replies carry `usage` and, like vLLM, a
// `stop_reason` naming the stop string that ended an answer. A stop flag drains: no new
// connection is taken, requests in flight are answered, then listen() returns.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "eval/prompt.h"
#include "inference/generation.h"

namespace assay::inference {
class LocalModel;
class Tokenizer;
}  // namespace assay::inference

namespace assay::eval {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8000;             // 0: any free port
  std::string api_key;         // "" = no key required; else "Authorization: Bearer <key>"
  std::string model_name;      // the id /v1/models lists and replies carry
  int handler_threads = 256;   // connections served at once (each waits for its answer)
  inference::BatchOptions batch;
  std::optional<PromptBuilder> chat;  // the model's chat format; nullopt: it has none
};

class OpenAiServer {
 public:
  // `model` and `tokenizer` must outlive the server.
  OpenAiServer(inference::LocalModel& model, const inference::Tokenizer& tokenizer,
               ServeOptions options);
  ~OpenAiServer();

  // Binds host:port. Returns the port. Throws assay::Error (invalid input) when it cannot bind.
  int bind();
  // Serves until *stop becomes true, then drains. bind() first.
  void listen(const std::atomic<bool>& stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace assay::eval
