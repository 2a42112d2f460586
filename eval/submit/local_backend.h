// evalctl's local backend: runs a job spec on this machine the way SageMaker Processing would.
// Each of `instance_count` hosts gets its own /opt/ml-style root (inputs linked in,
// config/resourceconfig.json, config/processingjobconfig.json) and one `evaluate run` process
// with SM_ROOT pointing at it; shard outputs are merged with `evaluate merge` and everything is
// delivered to <output>/<job name>/ (a local folder or s3://). Same job names and idempotency
// rules as the SageMaker backend; a job's state lives in <jobs_dir>/<name>/state.json.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "eval/submit/job_spec.h"
#include "eval/submit/s3.h"
#include "eval/submit/submit.h"

namespace assay::submit {

struct LocalOptions {
  std::filesystem::path jobs_dir;      // where job folders (roots, logs, state) live
  std::filesystem::path evaluate_bin;  // the `evaluate` binary to run
};

// The `evaluate` binary next to the running executable, else $ASSAY_EVALUATE_BIN, else
// "evaluate" (found on PATH when spawned).
std::filesystem::path default_evaluate_bin();

// Idempotent local submit. Completed → prints where the results are and runs nothing;
// InProgress with a live runner → attaches (with --wait, follows it); InProgress whose runner
// died → resumes it in place (evaluate resumes its run folders); Failed/Stopped → a new attempt
// <name>-rN only with --retry-failed. Runs in the foreground. Returns 0 when the job completed
// (or was attached to), 4 on failure, 130/143 when stopped by a signal. `s3` may be null when no
// input or output is an s3:// URI.
int run_local_submit(const JobSpec& spec, const std::string& origin, S3* s3,
                     const SubmitOptions& options, const LocalOptions& local, std::ostream& out);

// The state.json of a local job, or nullopt when it does not exist.
std::optional<nlohmann::json> local_job_state(const LocalOptions& local, const std::string& name);

// Status line for `name` (throws assay::Error not found when there is no such job).
int print_local_status(const LocalOptions& local, const std::string& name, std::ostream& out);

// Follows a local job until its runner ends; 0 when it Completed, 4 otherwise (or timeout).
int wait_for_local_job(const LocalOptions& local, const std::string& name,
                       const SubmitOptions& options, std::ostream& out);

// One status line per local job, newest first, filtered by state and name, at most
// query.max_results.
int list_local_jobs(const LocalOptions& local, const ListQuery& query, std::ostream& out);

// Prints the hosts' logs (logs/algo-<k>.log), each line as "<name>/algo-<k> <line>", the stream
// names CloudWatch would give them. Throws assay::Error (not found) when there is no such job.
int print_local_logs(const LocalOptions& local, const std::string& name, std::ostream& out);

// Copies what the job delivered (its state's `results`: a local folder, or an s3:// prefix read
// through `s3`) into `dest`; prints {job, files, dest}. Throws assay::Error (not found) when
// there is no such job or nothing was delivered.
int copy_local_results(const LocalOptions& local, S3* s3, const std::string& name,
                       const std::filesystem::path& dest, std::ostream& out);

// Sends SIGTERM to a running local job's runner (it forwards it to its hosts).
int stop_local_job(const LocalOptions& local, const std::string& name, std::ostream& out);

}  // namespace assay::submit
