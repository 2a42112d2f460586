#include "tests/e2e/process.h"

#include "core/jsonl.h"

#include <sys/wait.h>

#include <cstdio>

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

std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path,
                                            bool drop_torn_tail) {
  std::vector<nlohmann::json> out;
  for (auto& r : read_jsonl(path, drop_torn_tail ? TornTail::kDrop : TornTail::kError).records)
    out.push_back(std::move(r.value));
  return out;
}

}  // namespace assay::testing
