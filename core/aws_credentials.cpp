#include "core/aws_credentials.h"

#include <cstdlib>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace assay {

namespace {

std::string trim(const std::string& s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string env_or(const EnvLookup& env, const std::string& name, const std::string& fallback) {
  auto v = env(name);
  return v && !v->empty() ? *v : fallback;
}

std::string home_path(const EnvLookup& env, const std::string& rel) {
  return env_or(env, "HOME", "") + "/" + rel;
}

std::map<std::string, std::map<std::string, std::string>> load_ini(const std::string& path) {
  if (!std::filesystem::exists(path)) return {};
  return parse_aws_ini(read_file(path));
}

AwsCredentials finish(AwsCredentials creds) {
  log::register_secret(creds.secret_access_key);
  log::register_secret(creds.session_token);
  return creds;
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

std::map<std::string, std::map<std::string, std::string>> parse_aws_ini(const std::string& text) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string section;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      out[section];
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos || section.empty()) continue;
    std::string key = trim(line.substr(0, eq));
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[section][key] = trim(line.substr(eq + 1));
  }
  return out;
}

AwsCredentials resolve_aws_credentials(const EnvLookup& env, HttpClient* http) {
  // 1. Environment.
  auto key = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (key && secret) {
    return finish({*key, *secret, env_or(env, "AWS_SESSION_TOKEN", ""), "environment"});
  }
  // 2. Profiles.
  std::string profile = env_or(env, "AWS_PROFILE", "default");
  std::string cred_file =
      env_or(env, "AWS_SHARED_CREDENTIALS_FILE", home_path(env, ".aws/credentials"));
  std::string config_file = env_or(env, "AWS_CONFIG_FILE", home_path(env, ".aws/config"));
  auto creds_ini = load_ini(cred_file);
  auto config_ini = load_ini(config_file);
  auto from_section = [&](const std::map<std::string, std::string>& sec,
                          const std::string& where) -> std::optional<AwsCredentials> {
    auto k = sec.find("aws_access_key_id");
    auto s = sec.find("aws_secret_access_key");
    if (k == sec.end() || s == sec.end()) return std::nullopt;
    auto t = sec.find("aws_session_token");
    return AwsCredentials{k->second, s->second, t == sec.end() ? "" : t->second, where};
  };
  bool profile_seen = false;
  if (auto it = creds_ini.find(profile); it != creds_ini.end()) {
    profile_seen = true;
    if (auto c = from_section(it->second, cred_file + " [" + profile + "]")) return finish(*c);
  }
  std::string config_section = profile == "default" ? "default" : "profile " + profile;
  if (auto it = config_ini.find(config_section); it != config_ini.end()) {
    profile_seen = true;
    if (auto c = from_section(it->second, config_file + " [" + config_section + "]"))
      return finish(*c);
  }
  if (env("AWS_PROFILE") && !profile_seen) {
    throw_invalid("AWS_PROFILE: profile '" + profile + "' not found in " + cred_file + " or " +
                  config_file);
  }
  // 3. Container credentials endpoint.
  std::string uri = env_or(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "");
  if (uri.empty()) {
    if (auto rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
      uri = "http://169.254.170.2" + *rel;
  }
  if (!uri.empty() && http != nullptr) {
    HttpRequest request;
    request.method = "GET";
    request.url = uri;
    std::string token = env_or(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "");
    if (auto token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
      token = trim(read_file(*token_file));
    if (!token.empty()) {
      log::register_secret(token);
      request.headers.emplace_back("Authorization", token);
    }
    HttpResponse response = send_one(*http, std::move(request));
    if (response.status == 0) {
      throw Error(ErrorKind::kRemote,
                  "container credentials endpoint " + uri + ": no answer: " + response.error);
    }
    if (response.status != 200) {
      throw Error(ErrorKind::kRemote, "container credentials endpoint " + uri + " answered HTTP " +
                                          std::to_string(response.status));
    }
    try {
      auto body = nlohmann::json::parse(response.body);
      return finish({body.at("AccessKeyId").get<std::string>(),
                     body.at("SecretAccessKey").get<std::string>(),
                     body.value("Token", std::string()), "container endpoint " + uri});
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorKind::kRemote,
                  "container credentials endpoint " + uri +
                      ": bad JSON (needs AccessKeyId, SecretAccessKey): " + e.what());
    }
  }
  throw_invalid("no AWS credentials: tried AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile '" +
                profile + "' in " + cred_file + " and " + config_file +
                ", AWS_CONTAINER_CREDENTIALS_FULL_URI/_RELATIVE_URI");
}

std::string resolve_aws_region(const EnvLookup& env) {
  if (auto r = env("AWS_REGION")) return *r;
  if (auto r = env("AWS_DEFAULT_REGION")) return *r;
  std::string profile = env_or(env, "AWS_PROFILE", "default");
  auto config_ini = load_ini(env_or(env, "AWS_CONFIG_FILE", home_path(env, ".aws/config")));
  auto it = config_ini.find(profile == "default" ? "default" : "profile " + profile);
  if (it != config_ini.end()) {
    if (auto r = it->second.find("region"); r != it->second.end()) return r->second;
  }
  return "";
}

}  // namespace assay
