// The AWS Batch backend: the evaluation as a SageMaker training job queued through an AWS Batch
// fair-share queue (batch.h). Its flags (--queue, --share-identifier, --priority, --attempts,
// --attempt-timeout-s) are its own.
#include <memory>

#include "core/error.h"
#include "eval/submit/aws_client.h"
#include "eval/submit/backend.h"
#include "eval/submit/batch.h"

namespace assay::submit {

namespace {

class BatchBackend final : public Backend {
 public:
  explicit BatchBackend(const BackendArgs& args) : args_(args) {
    const auto& f = args.flags;
    if (auto it = f.find("--queue"); it != f.end()) batch_.queue = it->second;
    if (auto it = f.find("--share-identifier"); it != f.end()) batch_.share_identifier = it->second;
    batch_.priority = flag_int(f, "--priority", -1);
    batch_.attempts = flag_int(f, "--attempts", 1);
    batch_.attempt_timeout_s = flag_int(f, "--attempt-timeout-s", 0);
  }

  int submit(const JobSpec& spec, const std::string& origin) override {
    // Everything is checked before credentials are looked up or any call is made.
    validate_batch_options(batch_);
    validate_batch_job_spec(spec, origin, args_.options.allow_plaintext_secrets);
    if (args_.options.dry_run) {
      auto batch = make_dry_run_batch(args_.out);
      S3 s3(nullptr, args_.out);
      SubmitOptions options = args_.options;
      options.lock_dir.clear();
      options.wait = false;
      return run_batch_submit(spec, origin, batch_, *batch, s3, options, *args_.err);
    }
    connect();
    S3 s3(aws_.client.get(), nullptr);
    return run_batch_submit(spec, origin, batch_, *api_, s3, args_.options, *args_.out);
  }
  int status(const std::string& name) override {
    connect();
    return print_batch_status(*api_, batch_.queue, name, *args_.out);
  }
  int wait(const std::string& name) override {
    connect();
    return wait_for_batch_job(*api_, batch_.queue, name, args_.options, *args_.out);
  }
  int stop(const std::string& name) override {
    connect();
    return stop_batch_job(*api_, batch_.queue, name, *args_.out);
  }
  int list(const ListQuery& query) override {
    connect();
    return list_batch_jobs(*api_, batch_.queue, query.status, query.name_contains,
                           query.max_results, *args_.out);
  }
  int logs(const std::string& name) override {
    connect();
    return print_batch_logs(*api_, *aws_.client, batch_.queue, name, *args_.out);
  }
  int results(const std::string& name, const std::filesystem::path& dest) override {
    connect();
    S3 s3(aws_.client.get(), nullptr);
    return download_batch_results(*api_, s3, batch_.queue, name, dest, *args_.out);
  }

 private:
  // Checks the flags, then looks up credentials, region and endpoints.
  void connect() {
    if (api_) return;
    if (batch_.queue.empty()) throw_invalid("--queue is required with --backend batch");
    validate_batch_options(batch_);
    aws_ = connect_aws_from_env();
    api_ = make_aws_batch(aws_.client.get());
  }

  BackendArgs args_;
  BatchOptions batch_;
  AwsConnection aws_;
  std::unique_ptr<BatchApi> api_;
};

}  // namespace

BackendInfo batch_backend_info() {
  return {
      "batch",
      "a SageMaker training job queued in an AWS Batch fair-share queue",
      {{"--queue", "AWS Batch job queue (name or ARN, type SAGEMAKER_TRAINING)", all_commands()},
       {"--share-identifier",
        "fair-share share of the job (queues with a fair-share policy need one)",
        {"submit"}},
       {"--priority", "schedulingPriority 0..9999 within the share", {"submit"}},
       {"--attempts", "retryStrategy attempts 1..10 (default 1)", {"submit"}},
       {"--attempt-timeout-s", "timeoutConfig.attemptDurationSeconds (0 = none)", {"submit"}}},
      make_backend<BatchBackend>};
}

int run_batch_queue_command(const std::string& queue, bool table, std::ostream& out) {
  BatchOptions options;
  options.queue = queue;
  validate_batch_options(options);
  AwsConnection aws = connect_aws_from_env();
  auto batch = make_aws_batch(aws.client.get());
  return print_batch_queue(*batch, queue, out, table);
}

}  // namespace assay::submit
