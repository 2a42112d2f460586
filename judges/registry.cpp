#include "judges/registry.h"

#include "core/error.h"
#include "core/suggest.h"

// The registered providers, one line each, in the order help and messages list them:
// judges/<name>_judge.cpp defines `ProviderEntry <name>_provider()`.
#define ASSAY_JUDGE_PROVIDERS(X) \
  X(openai)                      \
  X(anthropic)                   \
  X(bedrock)                     \
  X(dummy)

namespace assay::judges {

#define ASSAY_DECLARE_PROVIDER(name) ProviderEntry name##_provider();
ASSAY_JUDGE_PROVIDERS(ASSAY_DECLARE_PROVIDER)
#undef ASSAY_DECLARE_PROVIDER

const std::vector<ProviderEntry>& providers() {
#define ASSAY_PROVIDER_ROW(name) name##_provider(),
  static const std::vector<ProviderEntry> all = {ASSAY_JUDGE_PROVIDERS(ASSAY_PROVIDER_ROW)};
#undef ASSAY_PROVIDER_ROW
  return all;
}

const ProviderEntry* find_provider(std::string_view name) {
  for (const auto& p : providers()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string provider_choices() {
  std::string out;
  for (const auto& p : providers()) out += p.name + ", ";
  if (out.size() >= 2) out.resize(out.size() - 2);
  return out + " or " + std::string(kNoProvider);
}

std::string provider_help() {
  std::string out;
  for (const auto& p : providers()) out += p.name + " (" + p.description + "), ";
  return out + std::string(kNoProvider) + " (no judge)";
}

const ProviderEntry& require_provider(std::string_view name, const std::string& what) {
  if (const ProviderEntry* p = find_provider(name)) return *p;
  std::vector<std::string> names;
  for (const auto& p : providers()) names.push_back(p.name);
  names.emplace_back(kNoProvider);
  throw_invalid(what + ": '" + std::string(name) + "' must be " + provider_choices() +
                did_you_mean(name, names));
}

void validate_judge_settings(const JudgeSettings& s) {
  const ProviderEntry* entry = nullptr;
  if (!s.provider.empty()) entry = &require_provider(s.provider, s.label("judge.provider"));
  if (s.max_concurrency < 1 || s.max_concurrency > 1024) {
    throw_invalid(s.label("judge.max_concurrency") + " must be 1..1024");
  }
  if (s.max_retries < 0 || s.max_retries > 100) {
    throw_invalid(s.label("judge.max_retries") + " must be 0..100");
  }
  if (!(s.timeout_s > 0 && s.timeout_s <= 3600)) {
    throw_invalid(s.label("judge.timeout_s") + " must be in (0, 3600]");
  }
  if (s.rpm < 0) throw_invalid(s.label("judge.rpm") + " must be >= 0");
  if (s.tpm < 0) throw_invalid(s.label("judge.tpm") + " must be >= 0");
  if (!(s.max_error_rate >= 0 && s.max_error_rate <= 1)) {
    throw_invalid(s.label("judge.max_error_rate") + " must be in [0, 1]");
  }
  if (!(s.max_cost_usd >= 0)) throw_invalid(s.label("judge.max_cost_usd") + " must be >= 0");
  if (entry != nullptr && s.max_cost_usd > 0 && entry->name != "dummy" &&
      find_price(s.prices, s.model) == nullptr) {
    throw_invalid(
        s.label("judge.max_cost_usd") + " needs a price for judge model '" + s.model +
        "': add it to judge.prices as {\"input_per_mtok\": ..., \"output_per_mtok\": ...}");
  }
  if (entry != nullptr) entry->validate(s);
}

std::unique_ptr<ChatProvider> make_provider(const JudgeSettings& settings,
                                            const ProviderDeps& deps) {
  return require_provider(settings.provider, settings.label("judge.provider"))
      .create(settings, deps);
}

HttpClientOptions http_options(const JudgeSettings& s) {
  HttpClientOptions ho;
  ho.max_concurrency = s.max_concurrency;
  ho.timeout_s = s.timeout_s;
  ho.rpm = s.rpm;
  ho.tpm = s.tpm;
  ho.retry.max_retries = s.max_retries;
  return ho;
}

std::unique_ptr<HttpClient> make_http_client(const JudgeSettings& settings,
                                             const ProviderDeps& deps) {
  HttpClientOptions ho = http_options(settings);
  return deps.make_http ? deps.make_http(ho) : make_curl_http_client(ho);
}

}  // namespace assay::judges
