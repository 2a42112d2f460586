// Typed settings read from a resolved config: what the commands use, validated once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/config.h"
#include "eval/dataset.h"
#include "judges/judge_settings.h"
#include "scoring/scorer.h"

namespace assay::eval {

// The judge stage (config keys judge.*), validated by judges::validate_judge_settings; the API
// key is already registered with the log redactor by resolve_config.
using JudgeSettings = judges::JudgeSettings;

// Generation and prompting for `evaluate run` (config keys generation.*, prompt.*, dummy.*).
// Validated ranges; dummy caps are already applied by run_settings_from.
struct GenerationSettings {
  int max_new_tokens = 256;          // per sample (dummy: min(this, dummy_max_new_tokens))
  double temperature = 0.0;          // 0 = greedy
  double top_p = 1.0;                // (0, 1]
  int top_k = 0;                     // 0 = off
  double min_p = 0.0;                // [0, 1)
  double repetition_penalty = 1.0;   // > 0
  std::vector<std::string> stop;     // stop strings
  uint64_t seed = 0;                 // run seed
  int max_batch_size = 32;           // sequences at once
  int max_batch_tokens = 8192;       // tokens in the batch at once
  std::string dtype = "auto";        // float32, bfloat16, auto
  int threads = 0;                   // CPU threads; 0 = all cores
  std::string prompt_template;       // "" = none (use chat_format)
  std::string prompt_template_key;   // "prompt.template (from ...)" for messages
  std::string chat_format = "auto";  // auto, none, chatml, llama3, llama2, mistral
  std::string chat_template_file;    // prompt.chat_template: a Jinja file; "" = the model's own
  std::string chat_template_name;    // which of a list of named templates; "" = "default"
  nlohmann::json chat_template_kwargs = nlohmann::json::object();  // extra template variables
  std::string system;                // prompt.system; "" = no system message
  std::string fewshot_file;          // prompt.fewshot: a dataset file of examples; "" = none
  int fewshot_n = 0;                 // prompt.fewshot_n: examples drawn from the dataset; 0 = none
  uint64_t fewshot_seed = 0;         // seeds the draw of prompt.fewshot_n
  int dummy_samples = 8;             // dummy mode: the first N samples
  // Where answers come from (eval/generators/).
  std::string backend = "local";  // local, openai, sagemaker
  std::string base_url;           // openai: e.g. http://127.0.0.1:8000/v1
  std::string api_key;            // openai: secret (already registered with the log redactor)
  std::string served_model;       // openai: model id; "" = the server's first
  std::string endpoint;           // sagemaker: endpoint name
  std::string payload = "auto";   // sagemaker: tgi, messages, auto
  int max_concurrency = 64;       // served backends: requests in flight
  int max_retries = 6;            // served backends: retries per request
  double timeout_s = 300;         // served backends: per attempt
  double rpm = 0, tpm = 0;        // served backends: rate limits (0: none)
};

struct RunSettings {
  std::string model;    // "" when unset
  std::string base_model;  // base model folder for a LoRA adapter; "" when unset
  std::string dataset;  // "" when unset
  std::string output;   // "" when unset
  bool dummy = false;
  std::string device = "cpu";
  DatasetFields fields;
  std::vector<scoring::MetricRequest> metrics;
  scoring::BootstrapOptions bootstrap;
  JudgeSettings judge;
  // Several judges (config `judges`): each is `judge` with its entry's overrides and a unique
  // name; empty: `judge` alone. When set, judge.provider is the first entry's (so "is there a
  // judge stage" reads the same everywhere).
  std::vector<JudgeSettings> judges;
  std::string judge_combine = "mean";  // judge.combine: mean or majority (several judges)
  std::string judge_calibration;       // judge.calibration: human labels JSONL; "" none
  GenerationSettings generation;
  std::string prediction_b_field = "prediction_b";  // pairwise judging: the second answer B
};

// Reads and validates the typed settings. Throws assay::Error (invalid input) naming the key
// and where its value came from (file, env, flag).
RunSettings run_settings_from(const ResolvedConfig& cfg);

}  // namespace assay::eval
