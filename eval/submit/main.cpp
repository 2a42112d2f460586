// evalctl: launch the evaluation as a SageMaker Processing job, idempotently. Thin main: flags
// → options → eval/submit library → exit code.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "core/error.h"
#include "core/log.h"
#include "eval/submit/batch_cli.h"
#include "eval/submit/local_backend.h"
#include "eval/submit/submit.h"

namespace {

using namespace assay::submit;

std::filesystem::path default_lock_dir() {
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache && *cache)
    return std::filesystem::path(cache) / "assay/evalctl";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".cache/assay/evalctl";
  return std::filesystem::temp_directory_path() / "assay-evalctl";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "evalctl: run Assay's evaluation as an Amazon SageMaker Processing job, idempotently."};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug|info|warn|error|off");

  SubmitOptions options;
  options.lock_dir = default_lock_dir();
  std::string spec_path, backend = "sagemaker";
  bool dry_run = false;
  CLI::App* submit =
      app.add_subcommand("submit", "Submit JOB.json (describe first; never starts a job twice)");
  submit->add_option("job", spec_path, "job spec JSON")->required();
  submit->add_flag("--wait", options.wait, "follow the job until it ends");
  submit->add_flag("--dry-run", dry_run, "make no call; print each request as one JSON line");
  submit->add_flag("--retry-failed", options.retry_failed,
                   "start <name>-rN when the last attempt Failed/Stopped");
  submit->add_flag(
      "--allow-plaintext-secrets", options.allow_plaintext_secrets,
      "allow secret-like environment values in the job (visible to DescribeProcessingJob)");
  submit->add_option("--backend", backend,
                     "sagemaker (default), batch (AWS Batch queue) or local (this machine, emulating SageMaker)")
      ->check(CLI::IsMember({"sagemaker", "local", "batch"}));
  LocalOptions local;
  local.jobs_dir = options.lock_dir / "local";
  std::string evaluate_bin;
  submit->add_option("--evaluate", evaluate_bin,
                     "local backend: the evaluate binary (default: next to evalctl, "
                     "$ASSAY_EVALUATE_BIN, or PATH)");
  std::string jobs_dir;
  app.add_option("--local-jobs-dir", jobs_dir,
                 "local backend: where job folders live (default ~/.cache/assay/evalctl/local)");
  submit->add_option("--poll-s", options.poll_s, "seconds between status polls with --wait");

  std::string job;
  CLI::App* status = app.add_subcommand("status", "Print a job's status");
  status->add_option("name", job, "processing job name")->required();
  CLI::App* wait =
      app.add_subcommand("wait", "Follow a job until it ends (exit 0 Completed, 4 otherwise)");
  wait->add_option("name", job, "processing job name")->required();
  wait->add_option("--poll-s", options.poll_s, "seconds between polls");
  wait->add_option("--timeout-s", options.wait_timeout_s, "give up after this long (0 = never)");
  CLI::App* stop = app.add_subcommand("stop", "Stop a job");
  stop->add_option("name", job, "processing job name")->required();
  CLI::App* logs = app.add_subcommand("logs", "Print a job's CloudWatch logs");
  logs->add_option("name", job, "processing job name")->required();
  std::string dest;
  CLI::App* results = app.add_subcommand("results", "Download a job's output folder");
  results->add_option("name", job, "processing job name")->required();
  results->add_option("dest", dest, "local folder")->required();
  std::string name_contains, status_equals;
  int max_results = 50;
  CLI::App* list = app.add_subcommand("list", "List processing jobs");
  list->add_option("--name-contains", name_contains, "substring of the job name");
  list->add_option("--status", status_equals, "InProgress|Completed|Failed|Stopping|Stopped");
  list->add_option("--max", max_results, "at most this many (1..100)")->check(CLI::Range(1, 100));
  BatchCli batch_cli(app, submit, {status, wait, stop, list});  // --backend batch, `queue`

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : assay::kExitBadInput;
  }
  try {
    assay::log::configure(assay::log::parse_level(log_level, "--log-level"));
    if (!jobs_dir.empty()) local.jobs_dir = jobs_dir;
    if (batch_cli.selected(backend)) {
      return batch_cli.run(
          {spec_path, dry_run, options, job, status_equals, name_contains, max_results});
    }
    if (submit->parsed()) {
      JobSpec spec = load_job_spec(spec_path);
      if (backend == "local") {
        if (dry_run) assay::throw_invalid("--dry-run is for the sagemaker backend");
        validate_job_spec(spec, spec_path, options.allow_plaintext_secrets, true);
        local.evaluate_bin =
            evaluate_bin.empty() ? default_evaluate_bin() : std::filesystem::path(evaluate_bin);
        // S3 is needed only when an input or the output is an s3:// URI.
        bool needs_s3 = spec.output.rfind("s3://", 0) == 0;
        for (const auto& input : spec.inputs) needs_s3 |= input.source.rfind("s3://", 0) == 0;
        std::unique_ptr<assay::HttpClient> http;
        std::unique_ptr<AwsClient> client;
        std::unique_ptr<S3> s3;
        if (needs_s3) {
          http = make_http_client_for_aws();
          client = make_aws_client_from_env(http.get());
          s3 = std::make_unique<S3>(client.get(), nullptr);
        }
        return run_local_submit(spec, spec_path, s3.get(), options, local, std::cout);
      }
      if (dry_run) {
        validate_job_spec(spec, spec_path, options.allow_plaintext_secrets);
        auto sagemaker = make_dry_run_sagemaker(&std::cout);
        S3 s3(nullptr, &std::cout);
        options.lock_dir.clear();
        options.wait = false;
        options.dry_run = true;
        return run_submit(spec, spec_path, *sagemaker, s3, options, std::cerr);
      }
      validate_job_spec(spec, spec_path, options.allow_plaintext_secrets);  // before credentials
      auto http = make_http_client_for_aws();
      auto client = make_aws_client_from_env(http.get());
      auto sagemaker = make_aws_sagemaker(client.get());
      S3 s3(client.get(), nullptr);
      return run_submit(spec, spec_path, *sagemaker, s3, options, std::cout);
    }
    if (batch_cli.follower_backend() == "local") {
      if (status->parsed()) return print_local_status(local, job, std::cout);
      if (stop->parsed()) return stop_local_job(local, job, std::cout);
      if (list->parsed()) return list_local_jobs(local, std::cout);
      if (wait->parsed()) return wait_for_local_job(local, job, options, std::cout);
    }
    auto http = make_http_client_for_aws();
    auto client = make_aws_client_from_env(http.get());
    auto sagemaker = make_aws_sagemaker(client.get());
    if (status->parsed()) return print_status(*sagemaker, job, std::cout);
    if (wait->parsed()) return wait_for_job(*sagemaker, job, options, std::cout);
    if (stop->parsed()) {
      sagemaker->stop(job);
      return print_status(*sagemaker, job, std::cout);
    }
    if (logs->parsed()) {
      print_logs(*client, job, std::cout);
      return assay::kExitOk;
    }
    if (results->parsed()) {
      S3 s3(client.get(), nullptr);
      int n = download_results(*sagemaker, s3, job, dest);
      std::cout << nlohmann::json{{"job", job}, {"files", n}, {"dest", dest}}.dump() << "\n";
      return assay::kExitOk;
    }
    if (list->parsed()) {
      nlohmann::json request = {
          {"MaxResults", max_results}, {"SortBy", "CreationTime"}, {"SortOrder", "Descending"}};
      if (!name_contains.empty()) request["NameContains"] = name_contains;
      if (!status_equals.empty()) request["StatusEquals"] = status_equals;
      auto answer = sagemaker->list(request);
      for (const auto& s : answer.value("ProcessingJobSummaries", nlohmann::json::array())) {
        std::cout << nlohmann::json{{"job", s.value("ProcessingJobName", "")},
                                    {"status", s.value("ProcessingJobStatus", "")},
                                    {"created", s.value("CreationTime", 0.0)}}
                         .dump()
                  << "\n";
      }
      return assay::kExitOk;
    }
  } catch (const assay::Error& e) {
    assay::log::error(e.what(), {{"kind", assay::error_kind_name(e.kind())}});
    return e.exit_code();
  } catch (const std::exception& e) {
    assay::log::error(std::string("unexpected error: ") + e.what());
    return assay::kExitRuntime;
  }
  return assay::kExitOk;
}
