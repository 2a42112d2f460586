// Runs a command line through /bin/sh for end-to-end tests and captures its output and status.
#pragma once

#include <string>

namespace assay::testing {

struct ProcessResult {
  int exit_code = -1;  // the process's exit status, or 128 + signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs `command` (a shell command line) and waits for it.
ProcessResult run_command(const std::string& command);

// Quotes a string for /bin/sh.
std::string shell_quote(const std::string& s);

}  // namespace assay::testing
