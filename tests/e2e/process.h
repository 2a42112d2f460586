// Runs a command line through /bin/sh for end-to-end tests and captures its output and status.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay::testing {

struct ProcessResult {
  int exit_code = -1;  // the process's exit status, or 128 + signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs `command` (a shell command line) and waits for it.
ProcessResult run_command(const std::string& command);

// Quotes a string for /bin/sh.
std::string shell_quote(const std::string& s);

// "env -u ... " (ends with a space): unsets every variable `evaluate` reads (model, dataset,
// output, config, dummy, judge, metrics, gates, SageMaker root), so a test's run never picks up
// the caller's settings. Prefix a command line with it.
inline constexpr const char* kCleanEvaluateEnv =
    "env -u MODEL_PATH -u IS_DUMMY -u EVAL_CONFIG -u JUDGE_PROVIDER -u JUDGE_BASE_URL "
    "-u OPENAI_BASE_URL -u JUDGE_API_KEY -u OPENAI_API_KEY -u ASSAY_MODEL_DIR -u DATASET_PATH "
    "-u OUTPUT_DIR -u EVAL_METRICS -u EVAL_GATES -u SM_ROOT -u TRAINING_JOB_NAME ";

// "cd /tmp && <clean env> OMP_WAIT_POLICY=PASSIVE JUDGE_PROVIDER=dummy <evaluate> ARGS": the
// built `evaluate` from an unrelated directory, with the dummy judge and nothing of the caller's
// settings.
std::string evaluate_line(const std::string& args);

// Runs evaluate_line(args) and waits for it.
ProcessResult run_evaluate(const std::string& args);

// The JSON records of a JSONL file; a torn last line is an error unless `drop_torn_tail`.
std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path,
                                            bool drop_torn_tail = false);

}  // namespace assay::testing
