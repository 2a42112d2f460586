// The generator plug-in point: where `evaluate run` gets an answer for each prompt. Requests go
// in, results stream out (finish reason and token counts included), and a stop flag cancels.
// Today's implementation is the in-process engine (`local`); a server over HTTP is one more file
// and one row in the table of generator.cpp, and the Generate stage (eval/stages.h) does not
// change.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/run_settings.h"

namespace assay::eval {

class ModelHandle;

// One prompt to answer.
struct GenerateRequest {
  std::string id;           // the sample id (also seeds the sample's RNG)
  std::string prompt;       // the prompt text, template or chat format applied (no BOS)
  std::string instruction;  // the sample's parts, for generators that send chat messages
  std::string input;
  std::string where;  // "file:line" of the sample, for messages
  // The prompt is the user message alone, for a server that applies the model's chat template
  // (a served backend with prompt.chat_format auto and no local template to render).
  bool chat = false;
};

// One answer.
struct GenerateResult {
  std::string id;
  std::string text;           // the answer, stop string removed
  std::string finish_reason;  // "eos" | "stop" | "length" | "error" (the model broke down)
  std::optional<std::size_t> prompt_tokens;      // nullopt: unknown (a server reported none)
  std::optional<std::size_t> completion_tokens;
  // Non-empty when the request failed for good (a served backend): why. `text` is then unused.
  std::string error;
};

class Generator {
 public:
  virtual ~Generator() = default;
  virtual std::string name() const = 0;
  // What summary.json records about where the answers came from: {"backend": name()} and, for a
  // served model, its endpoint (no secrets) and the model id the server reported.
  virtual nlohmann::json describe() const { return {{"backend", name()}}; }
  // True when chat prompts go to the server as messages for it to render (GenerateRequest::chat).
  virtual bool server_renders_chat() const { return false; }
  // The folder whose tokenizer_config.json holds the model's chat template (prompt.chat_format
  // "auto"), or nullopt when there is none to read. May load the model.
  virtual std::optional<std::filesystem::path> chat_template_dir() = 0;
  // Answers every request, calling `on_result` once per finished request on the calling thread,
  // in finishing order. When *cancel becomes true it starts no new request and returns soon,
  // abandoning those in flight (no on_result for them). Throws assay::Error (invalid input)
  // before answering anything for a request it cannot take (e.g. a prompt longer than the
  // model's context), naming the request's `where` and id.
  virtual void generate(std::span<const GenerateRequest> requests,
                        const std::function<void(GenerateResult&&)>& on_result,
                        const std::atomic<bool>* cancel) = 0;
};

// What a generator is built from: the run's settings and its model (a served backend uses the
// local model, when one is given, only for its tokenizer and chat template).
struct GeneratorContext {
  const RunSettings& settings;
  ModelHandle& model;
};

// The registered generators, by name ("local": the in-process engine).
std::vector<std::string> generator_names();

// Builds the generator `name`. Throws assay::Error (invalid input) for an unknown name, with a
// "did you mean" hint.
std::unique_ptr<Generator> make_generator(const std::string& name, const GeneratorContext& ctx);

}  // namespace assay::eval
