// The `openai` generator: any OpenAI-compatible server (vLLM, TGI, SGLang, `evaluate serve`).
// Settings generation.base_url / api_key (secret) / model; a prompt Assay rendered goes to
// /v1/completions, a message for the server's chat template to /v1/chat/completions. Greedy is
// temperature 0; stop strings, max_tokens and a per-sample seed are sent; finish_reason "stop"
// with a `stop_reason` string is "stop", without one "eos".
#pragma once

#include <memory>

#include "eval/generators/generator.h"

namespace assay::eval {

class ServedWire;

// The wire alone (tests drive it with their own HttpClient).
std::unique_ptr<ServedWire> make_openai_wire(const GenerationSettings& settings);

std::unique_ptr<Generator> make_openai_generator(const GeneratorContext& ctx);

}  // namespace assay::eval
