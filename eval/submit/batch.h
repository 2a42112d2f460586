// evalctl's AWS Batch backend: the evaluation as a SageMaker *training* job (CreateTrainingJob
// payload) queued through an AWS Batch service job queue (SubmitServiceJob, fair-share shares and
// priorities), idempotently; status/wait/stop/list of Batch service jobs by name, and a per-share
// view of what a queue runs now and will run next. AWS Batch queues only SAGEMAKER_TRAINING.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "eval/submit/aws_client.h"
#include "eval/submit/job_spec.h"
#include "eval/submit/s3.h"
#include "eval/submit/submit.h"

namespace assay::submit {

// What `--backend batch` adds to a submission (flags, not part of the spec file).
struct BatchOptions {
  std::string queue;              // job queue name or ARN (type SAGEMAKER_TRAINING); required
  std::string share_identifier;   // fair-share share; empty: not sent (FIFO queue)
  int64_t priority = -1;          // schedulingPriority 0..9999 within the share; -1: not sent
  int64_t attempts = 1;           // retryStrategy.attempts, 1..10
  int64_t attempt_timeout_s = 0;  // timeoutConfig.attemptDurationSeconds; 0: not sent
};

// Checks the flags against AWS Batch's limits (queue name or ARN, share identifier, priority
// 0..9999, attempts 1..10, timeout >= 0). Throws assay::Error (invalid input) naming the flag.
void validate_batch_options(const BatchOptions& options);

// Checks a spec for the batch backend: everything validate_job_spec checks, plus no custom
// input local_path / output_local_path (a training job's channels land in
// /opt/ml/input/data/<name>, results go to /opt/ml/model), channel names, hyperparameters
// (<= 100; names 1..256 and values <= 2500 characters without line breaks; secret-like names
// refused unless `allow_plaintext_secrets`), at most 49 tags (evalctl adds one). Throws
// assay::Error (invalid input) naming `origin` and the field.
void validate_batch_job_spec(const JobSpec& spec, const std::string& origin,
                             bool allow_plaintext_secrets);

// The batch job's identity: the spec's (spec_identity) plus the hyperparameters, the queue and
// the backend, so it never collides with a processing job's name.
SpecIdentity batch_spec_identity(const JobSpec& spec, const BatchOptions& options);

// clientToken of SubmitServiceJob for a job name: 64 hex characters of SHA-256("assay-batch:" +
// name). The same job (and attempt) always sends the same token.
std::string batch_client_token(const std::string& job_name);

// Container paths of the training-job contract: /opt/ml/input/data/<channel>.
inline constexpr const char* kTrainingChannelRoot = "/opt/ml/input/data/";

// The CreateTrainingJob body for `name`. `input_uris` maps each input to its S3 URI,
// `container_paths` to the path the container sees (MODEL_PATH etc.).
nlohmann::json build_training_job_request(
    const JobSpec& spec, const std::string& name, const std::string& spec_hash,
    const std::map<std::string, std::string>& input_uris,
    const std::map<std::string, std::string>& container_paths);

// The SubmitServiceJob body: jobName, jobQueue, serviceJobType SAGEMAKER_TRAINING,
// serviceRequestPayload (`training_request` as a JSON string), shareIdentifier /
// schedulingPriority / timeoutConfig when set, retryStrategy, tags, clientToken.
nlohmann::json build_submit_service_job_request(const JobSpec& spec, const BatchOptions& options,
                                                const std::string& name,
                                                const std::string& spec_hash,
                                                const nlohmann::json& training_request);

// The AWS Batch service-job API (REST-JSON, SigV4 service "batch") behind an interface; tests
// and --dry-run inject other implementations.
class BatchApi {
 public:
  virtual ~BatchApi() = default;
  // SubmitServiceJob; returns {jobArn, jobName, jobId}. Throws AwsError.
  virtual nlohmann::json submit(const nlohmann::json& request) = 0;
  // DescribeServiceJob; nullopt when no such job (ClientException 404-like answers).
  virtual std::optional<nlohmann::json> describe(const std::string& job_id) = 0;
  // ListServiceJobs, one page. Throws AwsError.
  virtual nlohmann::json list(const nlohmann::json& request) = 0;
  // TerminateServiceJob. Throws AwsError.
  virtual void terminate(const std::string& job_id, const std::string& reason) = 0;
  // GetJobQueueSnapshot. Throws AwsError.
  virtual nlohmann::json queue_snapshot(const std::string& queue) = 0;
};

// Sends through `client` (not owned).
std::unique_ptr<BatchApi> make_aws_batch(AwsClient* client);

// Prints {"service":"batch","method":"POST","path":"/v1/...","body":{...}} lines to `out`
// (secret-like Environment and HyperParameters values in the payload shown as "***"); answers
// "no such job" / empty lists, and a placeholder job id for submit.
std::unique_ptr<BatchApi> make_dry_run_batch(std::ostream* out);

// A SubmitServiceJob body with secret-like Environment / HyperParameters values of its
// serviceRequestPayload replaced by "***" and every string run through the log redactor.
nlohmann::json redact_batch_request(nlohmann::json body);

// Idempotent submit to an AWS Batch queue. Validates spec and options first (assay::Error,
// invalid input, before any call), takes the job lock, lists the queue's jobs named
// <prefix>-<hash>[-rN] and, like run_submit: none -> stage inputs and SubmitServiceJob
// (`created`); SUCCEEDED -> `already-completed`; FAILED -> exit 4 unless retry_failed (then
// -rN+1); anything else -> `attached`. A rejected duplicate clientToken attaches too. Returns 0,
// or 4 for a failed attempt not retried / a waited-for job that failed.
int run_batch_submit(const JobSpec& spec, const std::string& origin,
                     const BatchOptions& batch_options, BatchApi& batch, S3& s3,
                     const SubmitOptions& options, std::ostream& out);

// The newest service job named `name` in `queue` (ListServiceJobs, JOB_NAME filter), described.
// Throws assay::Error (not found) when there is none.
nlohmann::json describe_batch_job(BatchApi& batch, const std::string& queue,
                                  const std::string& name);

// One status line: job, job_id, status, queue, share, priority, status_reason, attempts,
// training_job and training_job_arn (once SageMaker has it), results. Returns 0.
int print_batch_status(BatchApi& batch, const std::string& queue, const std::string& name,
                       std::ostream& out);

// Follows the job until SUCCEEDED (0) or FAILED (4); 4 also on timeout. Logs each state change.
int wait_for_batch_job(BatchApi& batch, const std::string& queue, const std::string& name,
                       const SubmitOptions& options, std::ostream& out);

// TerminateServiceJob (reason "stopped with evalctl"), then prints the status line.
int stop_batch_job(BatchApi& batch, const std::string& queue, const std::string& name,
                   std::ostream& out);

// One line per job in the queue: all statuses unless `status` names one; `name_contains` filters
// names (case-insensitive); at most `max_results` lines, newest first.
int list_batch_jobs(BatchApi& batch, const std::string& queue, const std::string& status,
                    const std::string& name_contains, int max_results, std::ostream& out);

// Prints the CloudWatch log streams of the training job Batch started for `name`
// (/aws/sagemaker/TrainingJobs, streams <training job>/...). Throws assay::Error (not found)
// when there is no such job or Batch has not handed it to SageMaker yet. Returns 0.
int print_batch_logs(BatchApi& batch, AwsClient& client, const std::string& queue,
                     const std::string& name, std::ostream& out);

// Downloads what the training job wrote (<output><training job>/output/: model.tar.gz,
// output.tar.gz) into `dest` and unpacks each archive into dest/model/, dest/output/ with the
// model loader's safe extraction; prints one line {job, training_job, files, unpacked, dest}.
// Throws assay::Error: not found when there is no training job yet or nothing under its output;
// invalid input for an unsafe or corrupt archive. Returns 0.
int download_batch_results(BatchApi& batch, S3& s3, const std::string& queue,
                           const std::string& name, const std::filesystem::path& dest,
                           std::ostream& out);

// The queue view: one line for the queue (counts, snapshot time, whether the order is Batch's
// own), then one line per share with the jobs running now (SCHEDULED/STARTING/RUNNING), the
// RUNNABLE jobs in dispatch order (GetJobQueueSnapshot's front of queue; by creation time when
// that call is refused), the count of SUBMITTED/PENDING jobs and the share's capacity use.
// With `table`, the same as a text table for people (one row per job).
int print_batch_queue(BatchApi& batch, const std::string& queue, std::ostream& out,
                      bool table = false);

// `evalctl queue Q [--table]`: checks Q, connects from the environment, print_batch_queue.
int run_batch_queue_command(const std::string& queue, bool table, std::ostream& out);

}  // namespace assay::submit
