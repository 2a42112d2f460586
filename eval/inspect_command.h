// `evaluate inspect`: describes a model without running it: architecture and shape, parameter
// count, weight dtypes, LoRA adapter, tokenizer kind and special tokens.
#pragma once

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

namespace assay::eval {

struct InspectCommandOptions {
  std::string model;  // model folder, adapter folder or model.tar.gz (required)
  std::string
      base_model;     // base for a LoRA adapter; "" = adapter_config.json's base_model_name_or_path
  bool json = false;  // print the description as one JSON object instead of text
};

// Collects the description (the JSON object --json prints). Validates config.json against the
// weights and loads the tokenizer. Throws assay::Error (not found / invalid input naming the file).
nlohmann::json inspect_model(const InspectCommandOptions& options);

// Runs the command, printing text or JSON to `out`. Returns the exit code (0).
int run_inspect_command(const InspectCommandOptions& options, std::ostream& out);

}  // namespace assay::eval
