#include "eval/submit/job_spec.h"

#include <cctype>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/suggest.h"
#include "eval/config_check.h"
#include "eval/submit/limits.h"

namespace assay::submit {

namespace {

using nlohmann::json;

const std::vector<std::string> kFields = {
    "name_prefix",    "image_uri",      "role_arn",          "instance_type",
    "instance_count", "volume_size_gb", "max_runtime_s",     "inputs",
    "staging",        "output",         "output_local_path", "environment",
    "tags",           "entrypoint",     "arguments",         "judge_api_key_secret_id",
    "hyperparameters", "generation_endpoint"};

[[noreturn]] void bad(const std::string& origin, const std::string& field, const std::string& why) {
  throw_invalid(origin + ": field '" + field + "' " + why);
}

std::string get_string(const json& j, const std::string& origin, const std::string& field) {
  if (!j.is_string()) bad(origin, field, "must be a string");
  return j.get<std::string>();
}

int64_t get_int(const json& j, const std::string& origin, const std::string& field) {
  if (!j.is_number_integer()) bad(origin, field, "must be an integer");
  return j.get<int64_t>();
}

std::map<std::string, std::string> get_string_map(const json& j, const std::string& origin,
                                                  const std::string& field) {
  if (!j.is_object()) bad(origin, field, "must be an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) out[k] = get_string(v, origin, field + "." + k);
  return out;
}

std::vector<std::string> get_string_list(const json& j, const std::string& origin,
                                         const std::string& field) {
  if (!j.is_array()) bad(origin, field, "must be an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i)
    out.push_back(get_string(j[i], origin, field + "[" + std::to_string(i) + "]"));
  return out;
}

// Why `bucket` breaks S3's bucket naming rules, or "" when it follows them.
std::string bucket_name_problem(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) {
    return "is " + std::to_string(bucket.size()) + " characters; S3 allows 3..63";
  }
  for (char c : bucket) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
      return "has '" + std::string(1, c) +
             "': only lowercase letters, digits, dots and hyphens are allowed";
    }
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(bucket.front()) || !alnum(bucket.back())) {
    return "must start and end with a letter or a digit";
  }
  if (bucket.find("..") != std::string::npos) return "must not contain two adjacent dots";
  if (full_match(bucket, "[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+")) {
    return "must not be formatted as an IP address";
  }
  if (bucket.starts_with("xn--")) return "must not start with 'xn--'";
  if (bucket.starts_with("sthree-")) return "must not start with 'sthree-'";
  if (bucket.ends_with("-s3alias")) return "must not end with '-s3alias'";
  if (bucket.ends_with("--ol-s3")) return "must not end with '--ol-s3'";
  return "";
}

void check_s3_uri(const std::string& uri, const std::string& origin, const std::string& field) {
  if (uri.rfind("s3://", 0) != 0) {
    bad(origin, field, "is " + quoted(uri) + ": must be an s3://BUCKET/PREFIX URI");
  }
  std::string bucket = uri.substr(5, uri.find('/', 5) - 5);
  if (std::string why = bucket_name_problem(bucket); !why.empty()) {
    bad(origin, field, "is " + quoted(uri) + ": bucket name '" + bucket + "' " + why);
  }
  check_length(origin, field, uri, 0, 1024, "SageMaker S3Uri");
}

}  // namespace

bool is_secret_env_name(const std::string& name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.ends_with("_SECRET_ID")) return false;  // a reference, not a secret
  return upper.find("API_KEY") != std::string::npos || upper.find("SECRET") != std::string::npos ||
         upper.ends_with("TOKEN") || upper.find("PASSWORD") != std::string::npos;
}

JobSpec parse_job_spec(const std::string& text, const std::string& origin,
                       const std::filesystem::path& base_dir) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw_invalid(origin + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw_invalid(origin + ": a job spec must be a JSON object");
  JobSpec spec;
  spec.base_dir = base_dir;
  for (const auto& [key, value] : j.items()) {
    if (std::find(kFields.begin(), kFields.end(), key) == kFields.end()) {
      bad(origin, key, "is not a job spec field" + did_you_mean(key, kFields));
    }
  }
  auto has = [&](const char* f) { return j.contains(f) && !j[f].is_null(); };
  if (has("name_prefix")) spec.name_prefix = get_string(j["name_prefix"], origin, "name_prefix");
  if (has("image_uri")) spec.image_uri = get_string(j["image_uri"], origin, "image_uri");
  if (has("role_arn")) spec.role_arn = get_string(j["role_arn"], origin, "role_arn");
  if (has("instance_type"))
    spec.instance_type = get_string(j["instance_type"], origin, "instance_type");
  if (has("instance_count"))
    spec.instance_count = get_int(j["instance_count"], origin, "instance_count");
  if (has("volume_size_gb"))
    spec.volume_size_gb = get_int(j["volume_size_gb"], origin, "volume_size_gb");
  if (has("max_runtime_s"))
    spec.max_runtime_s = get_int(j["max_runtime_s"], origin, "max_runtime_s");
  if (has("staging")) spec.staging = get_string(j["staging"], origin, "staging");
  if (has("output")) spec.output = get_string(j["output"], origin, "output");
  if (has("output_local_path"))
    spec.output_local_path = get_string(j["output_local_path"], origin, "output_local_path");
  if (has("environment"))
    spec.environment = get_string_map(j["environment"], origin, "environment");
  if (has("tags")) spec.tags = get_string_map(j["tags"], origin, "tags");
  if (has("hyperparameters"))
    spec.hyperparameters = get_string_map(j["hyperparameters"], origin, "hyperparameters");
  if (has("entrypoint")) spec.entrypoint = get_string_list(j["entrypoint"], origin, "entrypoint");
  if (has("arguments")) spec.arguments = get_string_list(j["arguments"], origin, "arguments");
  if (has("judge_api_key_secret_id")) {
    spec.judge_api_key_secret_id =
        get_string(j["judge_api_key_secret_id"], origin, "judge_api_key_secret_id");
  }
  if (has("generation_endpoint")) {
    spec.generation_endpoint = get_string(j["generation_endpoint"], origin, "generation_endpoint");
  }
  if (has("inputs")) {
    if (!j["inputs"].is_object()) bad(origin, "inputs", "must be an object of name -> URI/path");
    for (const auto& [name, value] : j["inputs"].items()) {
      std::string field = "inputs." + name;
      JobInput input{name, "", "/opt/ml/processing/input/" + name};
      if (value.is_string()) {
        input.source = value.get<std::string>();
      } else if (value.is_object()) {
        for (const auto& [k, v] : value.items()) {
          if (k == "source") {
            input.source = get_string(v, origin, field + ".source");
          } else if (k == "local_path") {
            input.local_path = get_string(v, origin, field + ".local_path");
          } else {
            bad(origin, field + "." + k, "is not an input field (source, local_path)");
          }
        }
      } else {
        bad(origin, field, "must be a string or {\"source\", \"local_path\"}");
      }
      spec.inputs.push_back(std::move(input));
    }
  }
  return spec;
}

JobSpec load_job_spec(const std::filesystem::path& path) {
  std::filesystem::path base = std::filesystem::absolute(path).parent_path();
  return parse_job_spec(read_file(path), path.string(), base);
}

void validate_environment(const std::map<std::string, std::string>& env,
                          const std::string& origin) {
  if (env.size() > 100) {
    bad(origin, "environment",
        "has " + std::to_string(env.size()) +
            " entries (with the ones evalctl adds); SageMaker allows at most 100");
  }
  for (const auto& [k, v] : env) {
    const std::string field = "environment." + k;
    check_length(origin, field, k, 1, 256, "SageMaker Environment key");
    check_pattern(origin, field, k, "[a-zA-Z_][a-zA-Z0-9_]*",
                  "a letter or '_', then letters, digits and '_'");
    if (v.size() > 256) {  // the value may be a secret: its length is shown, not the value
      bad(origin, field,
          "value is " + std::to_string(v.size()) + " characters; SageMaker allows at most 256");
    }
  }
}

namespace {

void check_identity(const JobSpec& spec, const std::string& origin, bool local_backend) {
  check_length(origin, "name_prefix", spec.name_prefix, 1, kMaxNamePrefix,
               "job names are <prefix>-<16-char hash>[-rN], at most 63 characters");
  check_pattern(origin, "name_prefix", spec.name_prefix, "[a-zA-Z0-9](-*[a-zA-Z0-9])*",
                "letters, digits and inner hyphens, as SageMaker job names");
  if (spec.image_uri.empty() && !local_backend) bad(origin, "image_uri", "is required");
  check_length(origin, "image_uri", spec.image_uri, 0, 255, "SageMaker ImageUri");
  if (spec.role_arn.empty() && !local_backend)
    bad(origin, "role_arn", "is required (the SageMaker execution role ARN)");
  if (!local_backend || !spec.role_arn.empty()) {
    check_length(origin, "role_arn", spec.role_arn, 20, 2048, "SageMaker RoleArn");
    check_pattern(origin, "role_arn", spec.role_arn,
                  "arn:aws[a-z\\-]*:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
                  "an IAM role ARN, arn:aws:iam::123456789012:role/NAME");
  }
}

void check_resources(const JobSpec& spec, const std::string& origin) {
  check_pattern(origin, "instance_type", spec.instance_type,
                "ml\\.[a-z0-9]+\\.(nano|micro|small|medium|large|xlarge|[0-9]+xlarge)",
                "a SageMaker instance type such as ml.g5.2xlarge");
  check_range(origin, "instance_count", spec.instance_count, 1, 100, "SageMaker");
  check_range(origin, "volume_size_gb", spec.volume_size_gb, 1, 16384, "SageMaker");
  check_range(origin, "max_runtime_s", spec.max_runtime_s, 1, 777600, "SageMaker");
}

void check_processing_path(const std::string& origin, const std::string& field,
                           const std::string& path) {
  check_length(origin, field, path, 0, 256, "SageMaker LocalPath");
  const std::string root = "/opt/ml/processing/";
  if (path.rfind(root, 0) != 0 || path.size() <= root.size() ||
      path.find("/../") != std::string::npos || path.ends_with("/..")) {
    bad(origin, field,
        "is " + quoted(path) + ": must be under /opt/ml/processing/ (SageMaker's rule)");
  }
}

void check_inputs(const JobSpec& spec, const std::string& origin, bool local_backend) {
  if (spec.inputs.size() > 10)
    bad(origin, "inputs",
        "has " + std::to_string(spec.inputs.size()) + " entries; SageMaker allows at most 10");
  bool any_local = false;
  std::set<std::string> local_paths;
  for (const auto& input : spec.inputs) {
    std::string field = "inputs." + input.name;
    check_pattern(origin, field, input.name, "[a-zA-Z0-9][a-zA-Z0-9_\\-]{0,63}",
                  "1..64 letters, digits, '_' or '-', as SageMaker InputName");
    if (input.source.empty()) bad(origin, field, "has no source (an s3:// URI or a local path)");
    if (input.source.rfind("s3://", 0) == 0) {
      check_s3_uri(input.source, origin, field);
    } else {
      any_local = true;
    }
    check_processing_path(origin, field + ".local_path", input.local_path);
    if (!local_paths.insert(input.local_path).second)
      bad(origin, field + ".local_path",
          "is " + quoted(input.local_path) + ": used by another input");
  }
  if (any_local && !local_backend && spec.staging.empty())
    bad(origin, "staging", "is required when an input is a local path (an s3:// prefix)");
  if (!spec.staging.empty()) check_s3_uri(spec.staging, origin, "staging");
}

void check_outputs(const JobSpec& spec, const std::string& origin, bool local_backend) {
  if (spec.output.empty()) bad(origin, "output", "is required (an s3:// prefix for the results)");
  if (!local_backend || spec.output.rfind("s3://", 0) == 0)
    check_s3_uri(spec.output, origin, "output");
  check_length(origin, "output_local_path", spec.output_local_path, 0, 256, "SageMaker LocalPath");
  if (spec.output_local_path.rfind("/opt/ml/processing/", 0) != 0) {
    bad(origin, "output_local_path",
        "is " + quoted(spec.output_local_path) + ": must be under /opt/ml/processing/");
  }
}

void check_secrets(const JobSpec& spec, const std::string& origin, bool allow_plaintext_secrets) {
  for (const auto& [k, v] : spec.environment) {
    if (is_secret_env_name(k) && !v.empty() && !allow_plaintext_secrets) {
      bad(origin, "environment." + k,
          "looks like a secret: DescribeProcessingJob shows the environment to anyone with read "
          "access. Use "
          "judge_api_key_secret_id (AWS Secrets Manager) or pass --allow-plaintext-secrets");
    }
  }
}

// SageMaker's tag pattern ([\p{L}\p{Z}\p{N}_.:/=+\-@]*), its ASCII part checked; non-ASCII
// bytes (letters) are let through.
void check_tag_text(const std::string& origin, const std::string& field, const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x80 && !std::isalnum(c) &&
        std::string(" _.:/=+-@").find(static_cast<char>(c)) == std::string::npos) {
      bad(origin, field,
          "is " + quoted(s) + ": has '" + std::string(1, static_cast<char>(c)) +
              "'; must match [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]* (letters, digits, spaces and "
              "_.:/=+-@)");
    }
  }
}

void check_tags(const JobSpec& spec, const std::string& origin) {
  if (spec.tags.size() > 49)  // SageMaker allows 50; evalctl adds one (assay-spec-sha256)
    bad(origin, "tags",
        "has " + std::to_string(spec.tags.size()) +
            " entries; at most 49 (SageMaker allows 50 and evalctl adds assay-spec-sha256)");
  for (const auto& [k, v] : spec.tags) {
    const std::string field = "tags." + k;
    check_length(origin, field, k, 1, 128, "SageMaker tag keys");
    check_tag_text(origin, field, k);
    if (k.rfind("aws:", 0) == 0)
      bad(origin, field, "key is " + quoted(k) + ": keys starting with 'aws:' are reserved");
    check_length(origin, field, v, 0, 256, "SageMaker tag values");
    check_tag_text(origin, field, v);
  }
}

void check_container(const JobSpec& spec, const std::string& origin) {
  auto check_list = [&](const std::vector<std::string>& list, const std::string& field) {
    if (list.size() > 100)
      bad(origin, field,
          "has " + std::to_string(list.size()) + " items; SageMaker allows at most 100");
    for (size_t i = 0; i < list.size(); ++i) {
      check_length(origin, field + "[" + std::to_string(i) + "]", list[i], 0, 256, "SageMaker");
    }
  };
  check_list(spec.entrypoint, "entrypoint");
  check_list(spec.arguments, "arguments");
  check_length(origin, "judge_api_key_secret_id", spec.judge_api_key_secret_id, 0, 256,
               "an environment value");
}

// A served model instead of a model input: an OpenAI-compatible server's URL or a SageMaker
// endpoint name (SageMaker's EndpointName rule).
void check_generation_endpoint(const JobSpec& spec, const std::string& origin) {
  const std::string& e = spec.generation_endpoint;
  if (e.empty()) return;
  for (const auto& input : spec.inputs) {
    if (input.name == "model") {
      bad(origin, "generation_endpoint",
          "and an input 'model' are both set: the job evaluates either a served model or a model "
          "input, not both");
    }
  }
  if (is_generation_url(e)) {
    check_length(origin, "generation_endpoint", e, 1, 256, "an environment value");
    return;
  }
  check_length(origin, "generation_endpoint", e, 1, 63, "SageMaker endpoint names");
  check_pattern(origin, "generation_endpoint", e, "[a-zA-Z0-9](-*[a-zA-Z0-9])*",
                "a SageMaker endpoint name (letters, digits and single hyphens inside), or an "
                "http(s):// URL of an OpenAI-compatible server");
}

}  // namespace

bool is_generation_url(const std::string& endpoint) {
  return endpoint.rfind("http://", 0) == 0 || endpoint.rfind("https://", 0) == 0;
}

void validate_job_spec(const JobSpec& spec, const std::string& origin, bool allow_plaintext_secrets,
                       bool local_backend) {
  check_identity(spec, origin, local_backend);
  check_resources(spec, origin);
  check_inputs(spec, origin, local_backend);
  check_outputs(spec, origin, local_backend);
  validate_environment(spec.environment, origin);
  check_secrets(spec, origin, allow_plaintext_secrets);
  check_tags(spec, origin);
  check_container(spec, origin);
  check_generation_endpoint(spec, origin);
  validate_run_config(spec, origin);
}

void validate_run_config(const JobSpec& spec, const std::string& origin) {
  eval::RunConfigCheck check;
  check.environment = spec.environment;
  for (const auto& [k, v] : generation_environment(spec)) check.environment.emplace(k, v);
  check.api_key_from_secret = !spec.judge_api_key_secret_id.empty();
  for (const auto& input : spec.inputs) {
    if (input.name != "config" || input.source.rfind("s3://", 0) == 0) continue;
    std::filesystem::path file = input.source;
    if (file.is_relative()) file = spec.base_dir / file;
    std::error_code ec;
    if (std::filesystem::is_regular_file(file, ec)) check.file = file;
  }
  try {
    eval::check_run_config(check);
  } catch (const Error& e) {
    throw_invalid(origin + ": the run config evaluate would read (field 'environment'" +
                  (check.file ? ", input 'config'" : std::string()) + ") is refused: " + e.what());
  }
}

std::map<std::string, std::string> container_environment(
    const JobSpec& spec, const std::map<std::string, std::string>& container_paths) {
  std::map<std::string, std::string> env = spec.environment;
  auto add = [&](const std::string& k, const std::string& v) {
    env.emplace(k, v);
  };  // never overrides
  if (auto it = container_paths.find("model"); it != container_paths.end())
    add("MODEL_PATH", it->second);
  if (auto it = container_paths.find("data"); it != container_paths.end())
    add("DATASET_PATH", it->second);
  if (auto it = container_paths.find("config"); it != container_paths.end())
    add("EVAL_CONFIG", it->second);
  add("OUTPUT_DIR", spec.output_local_path);
  for (const auto& [k, v] : generation_environment(spec)) add(k, v);
  if (!spec.judge_api_key_secret_id.empty())
    add("JUDGE_API_KEY_SECRET_ID", spec.judge_api_key_secret_id);
  return env;
}

std::map<std::string, std::string> generation_environment(const JobSpec& spec) {
  const std::string& e = spec.generation_endpoint;
  if (e.empty()) return {};
  if (is_generation_url(e)) return {{"GEN_BACKEND", "openai"}, {"GEN_BASE_URL", e}};
  return {{"GEN_BACKEND", "sagemaker"}, {"GEN_ENDPOINT", e}};
}

std::string job_name(const std::string& prefix, const std::string& spec_hash, int attempt) {
  std::string name = prefix + "-" + spec_hash.substr(0, 16);
  if (attempt > 1) name += "-r" + std::to_string(attempt);
  return name;
}

}  // namespace assay::submit
