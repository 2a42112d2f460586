// The judge provider registry: each `judge.provider` name maps to one entry that validates the
// settings and builds the provider. Adding a provider is one file, judges/<name>_judge.cpp
// (defining `ProviderEntry <name>_provider()`), plus one line in ASSAY_JUDGE_PROVIDERS
// (registry.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/aws_credentials.h"
#include "core/http_client.h"
#include "judges/judge_settings.h"
#include "judges/provider.h"

namespace assay::judges {

// What a provider may need from the outside world, injected (tests pass fakes).
struct ProviderDeps {
  // Makes the HTTP client a provider sends through; the provider owns it. Empty: core's curl
  // client (make_curl_http_client).
  std::function<std::unique_ptr<HttpClient>(const HttpClientOptions&)> make_http;
  // Where AWS settings (region, credentials, endpoint overrides) are read for `bedrock`. Empty:
  // the process environment.
  EnvLookup env;
};

struct ProviderEntry {
  std::string name;         // the judge.provider value ("openai")
  std::string description;  // one line for --help and the docs
  // Checks the provider's own settings; throws assay::Error (invalid input) naming the key.
  void (*validate)(const JudgeSettings& settings);
  // Builds the provider from validated settings; throws assay::Error on failure.
  std::unique_ptr<ChatProvider> (*create)(const JudgeSettings& settings, const ProviderDeps& deps);
};

// The value of judge.provider that turns the judge stage off.
inline constexpr std::string_view kNoProvider = "none";

// Every registered provider, in registration order.
const std::vector<ProviderEntry>& providers();

// The entry named `name`, or nullptr.
const ProviderEntry* find_provider(std::string_view name);

// The accepted judge.provider values for messages: "openai, dummy or none".
std::string provider_choices();

// Help text for a --judge-provider flag: each provider with its description, then "none".
std::string provider_help();

// The entry named `name`. Throws assay::Error (invalid input) otherwise:
// "<what>: '<name>' must be openai, dummy or none" plus " (did you mean 'openai'?)" when a name
// is close. `what` names the key and its origin.
const ProviderEntry& require_provider(std::string_view name, const std::string& what);

// Validates the settings once: the provider name (an empty provider is no judge stage), the
// settings every provider shares (concurrency, retries, timeout, rates), then the provider's own
// validate. Throws assay::Error (invalid input) naming the key and where its value came from.
void validate_judge_settings(const JudgeSettings& settings);

// Builds the provider `settings.provider` names (validate first). Throws assay::Error (invalid
// input) for an unknown or empty name. The result owns whatever it made through `deps`.
std::unique_ptr<ChatProvider> make_provider(const JudgeSettings& settings,
                                            const ProviderDeps& deps = {});

// HTTP client options from the shared settings (concurrency, timeout, rates, retries).
HttpClientOptions http_options(const JudgeSettings& settings);

// The HTTP client `deps` makes for `settings` (core's curl client when deps.make_http is empty).
std::unique_ptr<HttpClient> make_http_client(const JudgeSettings& settings,
                                             const ProviderDeps& deps);

}  // namespace assay::judges
