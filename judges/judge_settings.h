// The settings every judge provider is built from (config keys judge.*): endpoint, model, rates,
// retries, prices. eval/ reads them from the resolved config; judges/registry.h validates them
// and builds the provider they name.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace assay::judges {

struct ModelPrice {
  double input_per_mtok = 0;   // USD per 1M prompt tokens
  double output_per_mtok = 0;  // USD per 1M completion tokens
};

struct JudgeSettings {
  std::string provider;  // a registry name (judges/registry.h); "" means no judge stage
  std::string base_url = "https://api.openai.com/v1";  // OpenAI-compatible endpoint
  bool base_url_set = false;  // judge.base_url was given (a local endpoint may need no key)
  std::string api_key;        // secret; "" sends no Authorization header
  std::string model;          // judge model id
  std::string rubric;         // built-in rubric name or a rubric file path
  int max_concurrency = 32;   // requests in flight
  int max_retries = 6;        // HTTP retries per request
  double timeout_s = 60;      // per HTTP attempt
  double rpm = 0;             // requests per minute, 0 unlimited
  double tpm = 0;             // tokens per minute, 0 unlimited
  std::string cache_dir;      // shared judge cache folder; "" none
  // Share of samples that may end with a judge_error before the run fails (exit 4); 0: any
  // error fails the run, 1: never fails.
  double max_error_rate = 0.5;
  std::map<std::string, ModelPrice> prices;  // judge model id -> price; missing: cost unknown
  int repeats = 1;   // judge.repeats: asks per question (1..20), each with its own seed
  std::string name;  // a stable name for reports ("" for the single `judge:`: provider/model)
  // Where each key's value came from ("env JUDGE_MODEL", "file run.json"), for messages; a
  // key not listed came from its default.
  std::map<std::string, std::string> origins;

  // A key as messages name it: "judge.model (from env JUDGE_MODEL)".
  std::string label(std::string_view key) const {
    auto it = origins.find(std::string(key));
    return std::string(key) + " (from " + (it == origins.end() ? "default" : it->second) + ")";
  }
};

}  // namespace assay::judges
