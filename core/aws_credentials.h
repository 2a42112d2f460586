// Where AWS credentials and the region come from, in the order the AWS SDKs use: environment,
// then the shared credentials/config files (profiles), then the container credentials endpoint.
// Every secret found is registered with the log redactor.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "core/http_client.h"
#include "core/sigv4.h"

namespace assay {

// Reads one environment variable; nullopt when unset. Tests pass a map-backed lookup.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (std::getenv); empty values count as unset.
EnvLookup process_env();

// Resolves credentials:
//   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//   2. profile AWS_PROFILE (default "default") in AWS_SHARED_CREDENTIALS_FILE (default
//      ~/.aws/credentials), then the same profile in AWS_CONFIG_FILE (default ~/.aws/config,
//      section "[profile NAME]" or "[default]");
//   3. AWS_CONTAINER_CREDENTIALS_FULL_URI, or http://169.254.170.2 + _RELATIVE_URI, with
//      AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) as the Authorization header; `http` is used for
//      that call and may be null when step 3 is not wanted.
// Throws assay::Error: invalid input when nothing is found (message lists what was tried) or a
// named profile does not exist; remote when the container endpoint fails or answers bad JSON.
AwsCredentials resolve_aws_credentials(const EnvLookup& env, HttpClient* http);

// Region: AWS_REGION, then AWS_DEFAULT_REGION, then `region` of the profile in the config file.
// Returns empty when none is set.
std::string resolve_aws_region(const EnvLookup& env);

// Parses an INI file of AWS shape into section → key → value (keys lowercased, values trimmed).
// A missing file gives an empty map. Exposed for tests.
std::map<std::string, std::map<std::string, std::string>> parse_aws_ini(const std::string& text);

}  // namespace assay
