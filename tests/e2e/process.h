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
    "-u OUTPUT_DIR -u EVAL_METRICS -u EVAL_GATES -u SM_ROOT -u TRAINING_JOB_NAME -u GEN_BACKEND "
    "-u GEN_BASE_URL -u GEN_API_KEY -u GEN_MODEL -u GEN_ENDPOINT -u SERVE_API_KEY "
    "-u ANTHROPIC_API_KEY -u JUDGE_MAX_COST_USD -u JUDGE_REGION -u JUDGE_BEDROCK_API ";

// "cd /tmp && <clean env> OMP_WAIT_POLICY=PASSIVE JUDGE_PROVIDER=dummy <evaluate> ARGS": the
// built `evaluate` from an unrelated directory, with the dummy judge and nothing of the caller's
// settings.
std::string evaluate_line(const std::string& args);

// Runs evaluate_line(args) and waits for it.
ProcessResult run_evaluate(const std::string& args);

// A process started in the background (a server), its stdout and stderr going to `log`.
struct BackgroundProcess {
  int pid = -1;
  std::filesystem::path log;
};

// Starts `command` with /bin/sh -c "exec COMMAND" (so the pid is the command's own) and returns
// at once.
BackgroundProcess start_background(const std::string& command, const std::filesystem::path& log);

// Sends `signal` (unless 0), waits for the process and returns its exit status (128 + signal
// when a signal ended it). Safe to call twice.
int stop_background(BackgroundProcess& process, int signal);

// A local server in the background that writes its port to `port_file` once it listens (the
// fake AWS endpoints, tests/e2e/fake_*_endpoint.py); SIGTERM on destruction.
class PortFileServer {
 public:
  // Starts `command` (its output to `log`) and waits up to 10 s for `port_file`.
  PortFileServer(const std::string& command, const std::filesystem::path& port_file,
                 const std::filesystem::path& log);
  ~PortFileServer();
  PortFileServer(const PortFileServer&) = delete;
  PortFileServer& operator=(const PortFileServer&) = delete;
  int port() const { return port_; }  // 0 when it did not start

 private:
  BackgroundProcess process_;
  int port_ = 0;
};

// Waits up to `seconds` for `log` to contain `text`; returns the log (empty on timeout).
std::string wait_for_log(const std::filesystem::path& log, const std::string& text,
                         double seconds);

// The JSON records of a JSONL file; a torn last line is an error unless `drop_torn_tail`.
std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path,
                                            bool drop_torn_tail = false);

}  // namespace assay::testing
