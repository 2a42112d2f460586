// `evaluate serve`: the in-process engine behind an OpenAI-compatible server (eval/serve/), so a
// local model can be a judge (JUDGE_BASE_URL=http://127.0.0.1:8000/v1) or the target of
// `evaluate run --generator openai`.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/http_client.h"
#include "core/log.h"
#include "eval/commands/command.h"
#include "eval/serve/openai_server.h"
#include "inference/chat_template.h"
#include "inference/local_model.h"
#include "inference/tokenizer.h"

namespace assay::eval {
namespace {
namespace fs = std::filesystem;

class ServeCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* serve = app.add_subcommand(
        "serve",
        "Serve a model over an OpenAI-compatible API (/v1/completions, /v1/chat/completions, "
        "/v1/models, /health). SIGTERM or SIGINT answers the requests in flight, then exits 0");
    serve->add_option("--model", model_, "Model folder, LoRA adapter folder or model.tar.gz")
        ->required();
    serve->add_option("--base-model", eo_.base_model, "Base model folder for a LoRA adapter");
    serve->add_option("--host", options_.host, "Address to listen on (default 127.0.0.1)");
    serve->add_option("--port", options_.port, "Port (default 8000; 0 = any free port)")
        ->check(CLI::Range(0, 65535));
    serve->add_option("--api-key", options_.api_key,
                      "Require 'Authorization: Bearer KEY' (env SERVE_API_KEY; the environment "
                      "keeps it out of the process list)");
    serve->add_option("--served-model-name", options_.model_name,
                      "Model id in /v1/models and replies (default: the model folder's name)");
    serve->add_option("--device", eo_.device, "cpu or cuda (default cpu)");
    serve->add_option("--dtype", eo_.dtype, "float32, bfloat16 or auto (default float32 on cpu)")
        ->check(CLI::IsMember({"float32", "bfloat16", "auto"}));
    serve->add_option("--threads", eo_.threads, "CPU threads for the model (0 = all cores)")
        ->check(CLI::Range(0, 4096));
    serve
        ->add_option("--max-batch-size", options_.batch.max_batch_size,
                     "Sequences generated at once (default 32)")
        ->check(CLI::Range(1, 4096));
    serve
        ->add_option("--max-model-len", options_.batch.max_context,
                     "Positions per sequence, prompt and answer (default: the model's "
                     "max_position_embeddings); the KV cache holds max-batch-size x this")
        ->check(CLI::Range(0, 1 << 24));
    serve
        ->add_option("--max-batch-tokens", options_.batch.max_batch_tokens,
                     "Padded prompt tokens prefilled in one step at most (default 8192)")
        ->check(CLI::Range(1, 1 << 26));
    return serve;
  }

  int run(std::ostream& out) override {
    if (options_.api_key.empty()) {
      if (const char* k = std::getenv("SERVE_API_KEY")) options_.api_key = k;
    }
    if (!options_.api_key.empty()) log::register_secret(options_.api_key);
    if (options_.model_name.empty()) {
      fs::path p = fs::path(model_).lexically_normal();
      if (p.filename().empty()) p = p.parent_path();
      options_.model_name = p.filename().string();
    }
    std::unique_ptr<inference::LocalModel> model = inference::load_local_model(model_, eo_);
    const fs::path tokenizer_dir = model->files().tokenizer_dir;
    auto tokenizer = inference::Tokenizer::load(tokenizer_dir);
    std::error_code ec;
    if (fs::exists(tokenizer_dir / "tokenizer_config.json", ec)) {
      inference::ChatConfig chat = inference::read_chat_config(tokenizer_dir);
      if (!chat.chat_template.empty()) options_.chat = std::move(chat);
    }
    install_stop_signal_handlers();
    OpenAiServer server(*model, *tokenizer, options_);
    const int port = server.bind();
    log::info("serving", {{"model", options_.model_name},
                          {"url", "http://" + options_.host + ":" + std::to_string(port) + "/v1"},
                          {"chat_template", options_.chat ? options_.chat->origin : "none"},
                          {"max_batch_size", options_.batch.max_batch_size}});
    out << "Serving " << options_.model_name << " at http://" << options_.host << ":" << port
        << "/v1" << std::endl;
    server.listen(global_stop_flag());
    out << "Stopped after answering the requests in flight" << std::endl;
    return kExitOk;
  }

 private:
  std::string model_;
  inference::EngineOptions eo_;
  ServeOptions options_;
};

}  // namespace

std::unique_ptr<Command> make_serve_command() {
  return std::make_unique<ServeCommand>();
}

}  // namespace assay::eval
