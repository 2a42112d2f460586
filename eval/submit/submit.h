// evalctl's commands as library calls: idempotent submit (describe first, deterministic names,
// content-addressed staging), status, wait, stop, list, logs, results. Each returns an exit code
// and prints one JSON line per result on `out`; progress goes to the log.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "eval/submit/job_spec.h"
#include "eval/submit/s3.h"
#include "eval/submit/sagemaker.h"

namespace assay::submit {

struct SubmitOptions {
  bool wait = false;                     // follow the job until it ends
  bool retry_failed = false;             // start <name>-rN when the last attempt Failed/Stopped
  bool allow_plaintext_secrets = false;  // let secret-like environment values through (warns)
  double poll_s = 30;                    // seconds between DescribeProcessingJob polls
  double wait_timeout_s = 0;             // give up waiting after this long; 0 = never
  std::filesystem::path lock_dir;        // where per-job lock files go; empty = no local lock
  bool dry_run = false;  // the API prints requests: the create is shown, not made, and the
                         // outcome line says "would-create" with no ARN or job id
};

// What `list` shows.
struct ListQuery {
  std::string status;         // one state, in the backend's names; empty: every state
  std::string name_contains;  // substring of the job name; empty: any
  int max_results = 50;       // at most this many lines
};

// The spec's identity: SHA-256 of its canonical JSON (image, role, instance settings, input
// content hashes or S3 URIs, output, environment, entrypoint, arguments; not tags). Local inputs
// are hashed here (no network).
struct SpecIdentity {
  std::string hash;                                 // 64 hex characters
  std::map<std::string, std::string> input_hashes;  // local input name -> content hash
  nlohmann::json canonical;                         // what was hashed
};
SpecIdentity spec_identity(const JobSpec& spec);

// The CreateProcessingJob body for `name`; `input_uris` maps each input to its S3 URI and
// `container_paths` to the path the container sees (for MODEL_PATH etc.).
nlohmann::json build_create_request(const JobSpec& spec, const std::string& name,
                                    const std::string& spec_hash,
                                    const std::map<std::string, std::string>& input_uris,
                                    const std::map<std::string, std::string>& container_paths);

// Where a job's results land: <output>/<job name>/.
std::string results_uri(const JobSpec& spec, const std::string& name);

// Idempotent submit (see README "evalctl submit"). Validates first (throws assay::Error, invalid
// input, before any call). Returns 0 when the job was created, attached to, or is Completed
// (and, with wait, ended Completed); 4 when the latest attempt Failed/Stopped and no retry was
// asked, or a waited-for job failed.
int run_submit(const JobSpec& spec, const std::string& origin, SageMakerApi& sagemaker, S3& s3,
               const SubmitOptions& options, std::ostream& out);

// Follows `name` until Completed/Failed/Stopped; prints the final status line. 0 on Completed,
// 4 otherwise (or on timeout). Throws assay::Error (not found) when the job does not exist.
int wait_for_job(SageMakerApi& sagemaker, const std::string& name, const SubmitOptions& options,
                 std::ostream& out);

// One look at a job while following it (the backends' wait commands share `follow_job`).
struct JobObservation {
  nlohmann::json line;     // its status line ("job", "status", ...), without "action"
  bool ended = false;      // in a terminal state
  bool succeeded = false;  // ended well
};

// Calls `observe` every options.poll_s seconds until the job has ended or options.wait_timeout_s
// (when > 0) has passed; logs each status change and prints the last line with action
// "finished" or "wait-timeout". 0 when the job succeeded, 4 otherwise.
int follow_job(const std::function<JobObservation()>& observe, const SubmitOptions& options,
               std::ostream& out);

// One status line for a job; throws assay::Error (not found) when it does not exist.
int print_status(SageMakerApi& sagemaker, const std::string& name, std::ostream& out);

// One line per processing job (ListProcessingJobs, newest first): job, status, created.
int list_processing_jobs(SageMakerApi& sagemaker, const ListQuery& query, std::ostream& out);

// Downloads every object under the job's output S3 URI into `dest`. Returns the file count.
int download_results(SageMakerApi& sagemaker, S3& s3, const std::string& name,
                     const std::filesystem::path& dest);

}  // namespace assay::submit
