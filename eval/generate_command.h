// `evaluate generate`: loads a model (folder, LoRA adapter or model.tar.gz) and its tokenizer,
// generates a continuation of one prompt and prints it (text, or {"ids": [...], "text": ...}).
#pragma once

#include <ostream>
#include <string>

#include "inference/generation.h"

namespace assay::eval {

struct GenerateCommandOptions {
  std::string model;                    // model folder, adapter folder or model.tar.gz (required)
  std::string prompt;                   // text to continue; "" = BOS alone
  inference::EngineOptions engine;      // device, dtype, base model, threads
  inference::GenerateOptions generate;  // max_new_tokens, greedy, temperature, seed
  bool json = false;  // print {"ids": [generated ids], "text": decoded} instead of text
};

// Runs the command and writes the continuation to `out`. Returns the exit code (0). Throws
// assay::Error: not found / invalid input (bad model, missing tokenizer, a tokenizer whose ids do
// not fit the model, an empty prompt for a model without BOS), naming the file at fault.
int run_generate_command(const GenerateCommandOptions& options, std::ostream& out);

}  // namespace assay::eval
