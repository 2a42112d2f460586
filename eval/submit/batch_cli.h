// evalctl's command-line surface for the AWS Batch backend (eval/submit/batch.h): the flags it
// adds to `submit`, `status`, `wait`, `stop` and `list`, the `queue` command, and the dispatch.
// Kept out of main.cpp so main stays thin; built into the evalctl binary only (uses CLI11).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "eval/submit/batch.h"

namespace assay::submit {

// What main's own flags parsed (the batch commands reuse them).
struct MainArgs {
  std::string spec_path;      // submit: the job spec
  bool dry_run = false;       // submit --dry-run
  SubmitOptions options;      // --wait, --retry-failed, --poll-s, --timeout-s, lock folder...
  std::string job;            // status/wait/stop: the job name
  std::string status;         // list --status
  std::string name_contains;  // list --name-contains
  int max_results = 50;       // list --max
};

class BatchCli {
 public:
  // Adds --queue, --share-identifier, --priority, --attempts, --attempt-timeout-s to `submit`;
  // --backend and --queue to each of `followers` (status, wait, stop, list); and `evalctl queue Q`.
  BatchCli(CLI::App& app, CLI::App* submit, std::initializer_list<CLI::App*> followers);

  // True when the parsed command is the batch backend's: `queue`, or a command with --backend
  // batch (`submit_backend` is the value of submit's own --backend). Throws assay::Error (invalid
  // input) when batch-only flags were given without --backend batch.
  bool selected(const std::string& submit_backend) const;

  // Runs the selected command; returns its exit code. Throws assay::Error as the library does.
  int run(const MainArgs& args) const;

  // The --backend given to status/wait/stop/list ("sagemaker", "batch" or "local").
  const std::string& follower_backend() const { return follower_backend_; }

 private:
  CLI::App* submit_;
  CLI::App* queue_cmd_;
  std::vector<CLI::App*> followers_;
  std::string follower_backend_ = "sagemaker";
  BatchOptions batch_;
  bool queue_table_ = false;  // evalctl queue --table
};

}  // namespace assay::submit
