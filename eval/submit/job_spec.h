// evalctl's job spec (JSON): what to run, where, on what; its validation against SageMaker's
// limits (before any network call) and the deterministic job name derived from its content.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay::submit {

// One input channel. `source` is an s3:// URI (used as is) or a local file/folder (staged).
struct JobInput {
  std::string name;    // channel name; the key in "inputs"
  std::string source;  // s3://... or a local path (relative to the spec file's folder)
  std::string
      local_path;  // where it lands in the container; default /opt/ml/processing/input/<name>
};

struct JobSpec {
  std::string name_prefix = "assay-eval";       // job names are <name_prefix>-<hash>[-rN]
  std::string image_uri;                        // container image (ECR URI); required
  std::string role_arn;                         // SageMaker execution role; required
  std::string instance_type = "ml.g5.2xlarge";  // SageMaker instance type
  int64_t instance_count = 1;                   // 1..100 hosts; each evaluates its shard
  int64_t volume_size_gb = 100;                 // EBS volume per host, 1..16384
  int64_t max_runtime_s = 86400;                // stopping condition, 1..777600
  std::vector<JobInput> inputs;                 // at most 10
  std::string staging;                          // s3:// prefix for staged local inputs
  std::string output;                           // s3:// prefix; results go to <output><job name>/
  std::string output_local_path = "/opt/ml/processing/output";  // what the container writes
  std::map<std::string, std::string> environment;               // passed to the container
  std::map<std::string, std::string> tags;  // resource tags (not part of the job hash)
  std::vector<std::string> entrypoint;      // ContainerEntrypoint; empty: the image's
  std::vector<std::string> arguments;       // ContainerArguments; empty: none
  std::string judge_api_key_secret_id;      // Secrets Manager id; passed as JUDGE_API_KEY_SECRET_ID
  std::map<std::string, std::string> hyperparameters;  // batch backend only: the training job's
                                                       // HyperParameters (strings)
  // A served model instead of an input "model": an OpenAI-compatible server's http(s):// URL or
  // a SageMaker endpoint name. The container's evaluate gets GEN_BACKEND and GEN_BASE_URL or
  // GEN_ENDPOINT; it is part of the job's identity.
  std::string generation_endpoint;
  std::filesystem::path base_dir;           // folder local input paths are relative to
};

// Parses a spec from JSON text; `origin` names the file in messages. Unknown fields are an error
// (with a suggestion). Throws assay::Error (invalid input) naming the field at fault.
JobSpec parse_job_spec(const std::string& text, const std::string& origin,
                       const std::filesystem::path& base_dir);

// Reads and parses a spec file. Throws assay::Error (not found / invalid input).
JobSpec load_job_spec(const std::filesystem::path& path);

// True for environment names that carry secrets (…API_KEY, …SECRET…, …TOKEN, …PASSWORD).
bool is_secret_env_name(const std::string& name);

// Checks the spec against SageMaker's limits: name prefix pattern and length, image, role ARN
// pattern, instance type/count/volume, max runtime, inputs (≤10, LocalPath under
// /opt/ml/processing/), staging/output URIs, environment (≤100 entries, names and values ≤256,
// name pattern, no raw secrets unless `allow_plaintext_secrets`), tags. Throws assay::Error
// (invalid input) whose message names `origin` and the field. For the local backend
// (`local_backend`), image and role are optional, local inputs need no staging prefix and the
// output may be a local folder. Last, the run config evaluate will read (validate_run_config).
void validate_job_spec(const JobSpec& spec, const std::string& origin,
                       bool allow_plaintext_secrets, bool local_backend = false);

// Checks the run config the container's `evaluate` will resolve from the spec's environment
// and local `config` input file (eval/config_check.h: key names and types,
// IS_DUMMY, metrics, judge settings and rubric, gates), so a spec evaluate would refuse is refused
// before anything is staged or created. Throws assay::Error (invalid input) naming `origin`.
void validate_run_config(const JobSpec& spec, const std::string& origin);

// Environment the container gets: the spec's, plus MODEL_PATH / DATASET_PATH / EVAL_CONFIG for
// inputs named model / data / config (pointing at `container_paths`), OUTPUT_DIR and
// JUDGE_API_KEY_SECRET_ID, never overriding what the spec sets.
std::map<std::string, std::string> container_environment(
    const JobSpec& spec, const std::map<std::string, std::string>& container_paths);

// Validates a final environment map (≤100 entries, names/values ≤256, name pattern); throws
// assay::Error naming `origin` and field 'environment'.
void validate_environment(const std::map<std::string, std::string>& env, const std::string& origin);

// True when a generation_endpoint is a URL (an OpenAI-compatible server), not an endpoint name.
bool is_generation_url(const std::string& endpoint);

// What generation_endpoint sets in the container: {} when unset; GEN_BACKEND=openai and
// GEN_BASE_URL for a URL; GEN_BACKEND=sagemaker and GEN_ENDPOINT for an endpoint name.
std::map<std::string, std::string> generation_environment(const JobSpec& spec);

// Job name of attempt `attempt` (1 = no suffix, 2 = "-r2", ...) for a spec hash.
std::string job_name(const std::string& prefix, const std::string& spec_hash, int attempt);

// Longest name_prefix allowed: 63 - len("-") - 16 hash chars - len("-r99").
inline constexpr size_t kMaxNamePrefix = 63 - 1 - 16 - 4;

}  // namespace assay::submit
