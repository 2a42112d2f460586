#include "eval/submit/batch_cli.h"

#include <iostream>

#include "core/error.h"

namespace assay::submit {

BatchCli::BatchCli(CLI::App& app, CLI::App* submit, std::initializer_list<CLI::App*> followers)
    : submit_(submit), followers_(followers) {
  submit->add_option("--queue", batch_.queue,
                     "--backend batch: AWS Batch job queue (name or ARN, type SAGEMAKER_TRAINING)");
  submit->add_option("--share-identifier", batch_.share_identifier,
                     "--backend batch: fair-share share of the job (queues with a fair-share "
                     "policy need one)");
  submit->add_option("--priority", batch_.priority,
                     "--backend batch: schedulingPriority 0..9999 within the share");
  submit->add_option("--attempts", batch_.attempts,
                     "--backend batch: retryStrategy attempts 1..10 (default 1)");
  submit->add_option("--attempt-timeout-s", batch_.attempt_timeout_s,
                     "--backend batch: timeoutConfig.attemptDurationSeconds (0 = none)");
  for (CLI::App* f : followers_) {
    f->add_option("--backend", follower_backend_, "sagemaker (default), batch or local")
        ->check(CLI::IsMember({"sagemaker", "batch", "local"}));
    f->add_option("--queue", batch_.queue, "--backend batch: the AWS Batch job queue");
  }
  queue_cmd_ = app.add_subcommand(
      "queue", "AWS Batch: per share, what queue Q runs now and what it will run next");
  queue_cmd_->add_option("queue", batch_.queue, "job queue name or ARN")->required();
  queue_cmd_->add_flag("--table", queue_table_, "a text table instead of JSON lines");
}

bool BatchCli::selected(const std::string& submit_backend) const {
  if (queue_cmd_->parsed()) return true;
  if (submit_->parsed()) {
    if (submit_backend == "batch") return true;
    for (const char* flag :
         {"--queue", "--share-identifier", "--priority", "--attempts", "--attempt-timeout-s"}) {
      if (submit_->count(flag) > 0) throw_invalid(std::string(flag) + " needs --backend batch");
    }
    return false;
  }
  for (CLI::App* f : followers_) {
    if (!f->parsed()) continue;
    if (follower_backend_ == "batch") return true;
    if (f->count("--queue") > 0) throw_invalid("--queue needs --backend batch");
  }
  return false;
}

int BatchCli::run(const MainArgs& args) const {
  if (submit_->parsed()) {
    JobSpec spec = load_job_spec(args.spec_path);
    SubmitOptions options = args.options;
    // Everything is checked before credentials are looked up or any call is made.
    validate_batch_options(batch_);
    validate_batch_job_spec(spec, args.spec_path, options.allow_plaintext_secrets);
    if (args.dry_run) {
      auto batch = make_dry_run_batch(&std::cout);
      S3 s3(nullptr, &std::cout);
      options.lock_dir.clear();
      options.wait = false;
      options.dry_run = true;
      return run_batch_submit(spec, args.spec_path, batch_, *batch, s3, options, std::cerr);
    }
    auto http = make_http_client_for_aws();
    auto client = make_aws_client_from_env(http.get());
    auto batch = make_aws_batch(client.get());
    S3 s3(client.get(), nullptr);
    return run_batch_submit(spec, args.spec_path, batch_, *batch, s3, options, std::cout);
  }
  if (batch_.queue.empty()) throw_invalid("--queue is required with --backend batch");
  validate_batch_options(batch_);
  auto http = make_http_client_for_aws();
  auto client = make_aws_client_from_env(http.get());
  auto batch = make_aws_batch(client.get());
  if (queue_cmd_->parsed()) return print_batch_queue(*batch, batch_.queue, std::cout, queue_table_);
  for (CLI::App* f : followers_) {
    if (!f->parsed()) continue;
    const std::string& command = f->get_name();
    if (command == "status") return print_batch_status(*batch, batch_.queue, args.job, std::cout);
    if (command == "wait")
      return wait_for_batch_job(*batch, batch_.queue, args.job, args.options, std::cout);
    if (command == "stop") return stop_batch_job(*batch, batch_.queue, args.job, std::cout);
    if (command == "list") {
      return list_batch_jobs(*batch, batch_.queue, args.status, args.name_contains,
                             args.max_results, std::cout);
    }
  }
  throw_invalid("this command has no --backend batch form");
}

}  // namespace assay::submit
