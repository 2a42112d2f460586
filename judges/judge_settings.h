// The settings every judge provider is built from (config keys judge.*): endpoint, model, rates,
// retries, prices. eval/ reads them from the resolved config; judges/registry.h validates them
// and builds the provider they name.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace assay::judges {

struct ModelPrice {
  double input_per_mtok = 0;   // USD per 1M prompt tokens
  double output_per_mtok = 0;  // USD per 1M completion tokens
};

// The built-in price table (USD per 1M tokens, list prices for on-demand use), which
// judge.prices entries add to or override. Keys are model ids as each provider names them:
// OpenAI ("gpt-4o"), Anthropic ("claude-3-5-sonnet-20241022") and Bedrock
// ("anthropic.claude-3-5-sonnet-20241022-v2:0"; a cross-region inference profile id such as
// "us.anthropic..." is priced as the model it routes to).
const std::map<std::string, ModelPrice>& default_judge_prices();

// The price of `model` in `prices`: the exact id, else (a Bedrock cross-region inference profile
// "us.", "eu.", "apac.", ... followed by a model id) the id without its geography prefix.
// nullptr when neither is listed.
const ModelPrice* find_price(const std::map<std::string, ModelPrice>& prices,
                             const std::string& model);

// USD for the token counts at `model`'s price in `prices` (find_price), or nullopt when the model
// has no price.
std::optional<double> cost_usd_of(const std::map<std::string, ModelPrice>& prices,
                                  const std::string& model, std::int64_t prompt_tokens,
                                  std::int64_t completion_tokens);

struct JudgeSettings {
  std::string provider;  // a registry name (judges/registry.h); "" means no judge stage
  std::string base_url = "https://api.openai.com/v1";  // OpenAI-compatible endpoint
  bool base_url_set = false;  // judge.base_url was given (a local endpoint may need no key)
  std::string api_key;        // secret; "" sends no Authorization header
  std::string model;          // judge model id
  // anthropic: the anthropic-version header of the Messages API.
  std::string anthropic_version = "2023-06-01";
  // bedrock: the AWS region ("": AWS_REGION, AWS_DEFAULT_REGION, then the profile's region).
  std::string region;
  // bedrock: "converse" (the Converse API, any model) or "invoke" (InvokeModel with the
  // Anthropic Messages body, Claude models only).
  std::string bedrock_api = "converse";
  // Stop sending judge requests once this run has spent this many USD (priced from `prices`);
  // the samples left get judge_error kind "budget". 0: no cap.
  double max_cost_usd = 0;
  std::string rubric;        // built-in rubric name or a rubric file path
  int max_concurrency = 32;  // requests in flight
  int max_retries = 6;       // HTTP retries per request
  double timeout_s = 60;     // per HTTP attempt
  double rpm = 0;            // requests per minute, 0 unlimited
  double tpm = 0;            // tokens per minute, 0 unlimited
  std::string cache_dir;     // shared judge cache folder; "" none
  // Share of samples that may end with a judge_error before the run fails (exit 4); 0: any
  // error fails the run, 1: never fails.
  double max_error_rate = 0.5;
  std::map<std::string, ModelPrice> prices;  // judge model id -> price; missing: cost unknown
  int repeats = 1;   // judge.repeats: asks per question (1..20), each with its own seed
  std::string name;  // a stable name for reports ("" for the single `judge:`: provider/model)
  // Where each key's value came from ("env JUDGE_MODEL", "file run.json"), for messages; a
  // key not listed came from its default.
  std::map<std::string, std::string> origins;

  // judge.base_url was set for this judge: given, and not only through OPENAI_BASE_URL (which
  // the non-OpenAI providers ignore).
  bool base_url_given_for_any_provider() const {
    auto it = origins.find("judge.base_url");
    return base_url_set && (it == origins.end() || it->second != "env OPENAI_BASE_URL");
  }

  // A key as messages name it: "judge.model (from env JUDGE_MODEL)".
  std::string label(std::string_view key) const {
    auto it = origins.find(std::string(key));
    return std::string(key) + " (from " + (it == origins.end() ? "default" : it->second) + ")";
  }
};

}  // namespace assay::judges
