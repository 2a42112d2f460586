#include "judges/judge_settings.h"

namespace assay::judges {

const std::map<std::string, ModelPrice>& default_judge_prices() {
  // List prices in USD per 1M tokens (input, output) for on-demand, non-batch use, as published
  // on openai.com/api/pricing, anthropic.com/pricing and aws.amazon.com/bedrock/pricing
  // (us-east-1) in June 2025. Prices change: a judge.prices entry overrides any row.
  static const std::map<std::string, ModelPrice> table = {
      // OpenAI
      {"gpt-4o", {2.50, 10.00}},
      {"gpt-4o-2024-08-06", {2.50, 10.00}},
      {"gpt-4o-mini", {0.15, 0.60}},
      {"gpt-4o-mini-2024-07-18", {0.15, 0.60}},
      {"gpt-4.1", {2.00, 8.00}},
      {"gpt-4.1-mini", {0.40, 1.60}},
      {"gpt-4.1-nano", {0.10, 0.40}},
      // Anthropic Messages API
      {"claude-3-5-sonnet-20241022", {3.00, 15.00}},
      {"claude-3-5-sonnet-20240620", {3.00, 15.00}},
      {"claude-3-5-haiku-20241022", {0.80, 4.00}},
      {"claude-3-haiku-20240307", {0.25, 1.25}},
      {"claude-3-7-sonnet-20250219", {3.00, 15.00}},
      {"claude-sonnet-4-20250514", {3.00, 15.00}},
      // Amazon Bedrock (cross-region inference profiles "us."/"eu."/"apac." cost the same)
      {"anthropic.claude-3-5-sonnet-20241022-v2:0", {3.00, 15.00}},
      {"anthropic.claude-3-5-sonnet-20240620-v1:0", {3.00, 15.00}},
      {"anthropic.claude-3-5-haiku-20241022-v1:0", {0.80, 4.00}},
      {"anthropic.claude-3-haiku-20240307-v1:0", {0.25, 1.25}},
      {"anthropic.claude-3-7-sonnet-20250219-v1:0", {3.00, 15.00}},
      {"anthropic.claude-sonnet-4-20250514-v1:0", {3.00, 15.00}},
      {"amazon.nova-pro-v1:0", {0.80, 3.20}},
      {"amazon.nova-lite-v1:0", {0.06, 0.24}},
      {"amazon.nova-micro-v1:0", {0.035, 0.14}},
  };
  return table;
}

const ModelPrice* find_price(const std::map<std::string, ModelPrice>& prices,
                             const std::string& model) {
  if (auto it = prices.find(model); it != prices.end()) return &it->second;
  // A Bedrock inference profile id: "<geography>.<model id>" with a short lowercase geography.
  static const char* const kGeographies[] = {"us.", "eu.", "apac.", "us-gov.",
                                             "jp.", "au.", "ca.",   "global."};
  for (const char* geo : kGeographies) {
    if (model.starts_with(geo)) {
      auto it = prices.find(model.substr(std::string_view(geo).size()));
      return it == prices.end() ? nullptr : &it->second;
    }
  }
  return nullptr;
}

std::optional<double> cost_usd_of(const std::map<std::string, ModelPrice>& prices,
                                  const std::string& model, std::int64_t prompt_tokens,
                                  std::int64_t completion_tokens) {
  const ModelPrice* p = find_price(prices, model);
  if (p == nullptr) return std::nullopt;
  return (static_cast<double>(prompt_tokens) * p->input_per_mtok +
          static_cast<double>(completion_tokens) * p->output_per_mtok) /
         1e6;
}

}  // namespace assay::judges
