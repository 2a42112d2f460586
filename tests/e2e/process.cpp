#include "tests/e2e/process.h"

#include "core/jsonl.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace assay::testing {

ProcessResult run_command(const std::string& command) {
  ProcessResult r;
  std::string full = "(" + command + ") 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  int status = ::pclose(pipe);
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.exit_code = 128 + WTERMSIG(status);
  }
  return r;
}

#ifdef ASSAY_EVALUATE_BIN  // only the binaries that know where evaluate is (e2e_test)
std::string evaluate_line(const std::string& args) {
  return "cd /tmp && " + std::string(kCleanEvaluateEnv) +
         "OMP_WAIT_POLICY=PASSIVE JUDGE_PROVIDER=dummy " + shell_quote(ASSAY_EVALUATE_BIN) + " " +
         args;
}

ProcessResult run_evaluate(const std::string& args) {
  return run_command(evaluate_line(args));
}
#endif

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

BackgroundProcess start_background(const std::string& command, const std::filesystem::path& log) {
  BackgroundProcess p;
  p.log = log;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const std::string line = "exec " + command;
  char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                  const_cast<char*>(line.c_str()), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ) == 0) p.pid = pid;
  posix_spawn_file_actions_destroy(&actions);
  return p;
}

int stop_background(BackgroundProcess& process, int signal) {
  if (process.pid <= 0) return -1;
  if (signal != 0) ::kill(process.pid, signal);
  int status = 0;
  ::waitpid(process.pid, &status, 0);
  process.pid = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

PortFileServer::PortFileServer(const std::string& command, const std::filesystem::path& port_file,
                               const std::filesystem::path& log)
    : process_(start_background(command, log)) {
  for (int i = 0; i < 200 && !std::filesystem::exists(port_file); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::ifstream in(port_file);
  if (!(in >> port_)) port_ = 0;
}

PortFileServer::~PortFileServer() {
  stop_background(process_, SIGTERM);
}

std::string wait_for_log(const std::filesystem::path& log, const std::string& text,
                         double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(text) != std::string::npos) return ss.str();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "";
}

std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path,
                                            bool drop_torn_tail) {
  std::vector<nlohmann::json> out;
  for (auto& r : read_jsonl(path, drop_torn_tail ? TornTail::kDrop : TornTail::kError).records)
    out.push_back(std::move(r.value));
  return out;
}

}  // namespace assay::testing
