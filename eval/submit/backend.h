// evalctl's backends behind one interface: where a job runs (SageMaker Processing, an AWS Batch
// queue, this machine) and how its seven commands work there. A backend is one file
// (<name>_backend.cpp, defining its BackendInfo: name, own flags, factory) and one row of the
// table in backend.cpp. main builds the backend --backend names and calls the command's verb.
#pragma once

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "eval/submit/job_spec.h"
#include "eval/submit/submit.h"

namespace assay::submit {

// The seven commands. Each returns the exit code and prints one JSON line per result on the
// backend's `out` (logs: one "<stream> <message>" line per event); throws assay::Error (kind →
// exit code) for bad input, a job that does not exist, or an AWS failure after retries.
class Backend {
 public:
  virtual ~Backend() = default;
  // Idempotent: under the job lock, describes or lists the job's attempts first and creates one
  // only when none exists (or, with retry_failed, after a failed one). Validates before any call.
  virtual int submit(const JobSpec& spec, const std::string& origin) = 0;
  virtual int status(const std::string& name) = 0;
  // Follows the job until it ends: 0 when it succeeded, 4 otherwise or on timeout.
  virtual int wait(const std::string& name) = 0;
  virtual int stop(const std::string& name) = 0;
  virtual int list(const ListQuery& query) = 0;
  virtual int logs(const std::string& name) = 0;
  // Copies what the job wrote into `dest` (created when missing).
  virtual int results(const std::string& name, const std::filesystem::path& dest) = 0;
};

// A flag that belongs to one backend; given with another backend it is refused.
struct BackendFlag {
  std::string name;                   // "--queue"
  std::string help;                   // for --help
  std::vector<std::string> commands;  // the commands that take it ("submit", "status", ...)
};

// What main hands a backend's factory.
struct BackendArgs {
  SubmitOptions options;                     // --wait, --retry-failed, --poll-s, --timeout-s,
                                             // --dry-run, --allow-plaintext-secrets, lock folder
  std::map<std::string, std::string> flags;  // this backend's flags that were given, by name
  std::filesystem::path cache_dir;           // ~/.cache/assay/evalctl (locks, local job folders)
  std::ostream* out = &std::cout;            // result lines (dry-run: the requests)
  std::ostream* err = &std::cerr;            // dry-run: the outcome line
};

struct BackendInfo {
  std::string name;                // the value of --backend
  std::string help;                // one line for --help
  std::vector<BackendFlag> flags;  // its own flags
  // Builds the backend. Throws assay::Error (invalid input) for a bad flag value; makes no call.
  std::unique_ptr<Backend> (*make)(const BackendArgs& args);
};

// The backend table (backend.cpp), in --help order; the first is the default.
const std::vector<BackendInfo>& backends();

// The row named `name`. Throws assay::Error (invalid input) listing the names.
const BackendInfo& find_backend(const std::string& name);

// Throws assay::Error (invalid input) when a flag in `given` belongs to a backend other than
// `selected`: "--queue needs --backend batch (this command uses --backend sagemaker)".
void refuse_foreign_flags(const std::string& selected, const std::vector<std::string>& given);

// A flag's integer value. Throws assay::Error (invalid input) naming the flag and the value.
int64_t flag_int(const std::map<std::string, std::string>& flags, const std::string& name,
                 int64_t fallback);

// The factory of a backend class constructed from BackendArgs (for BackendInfo::make).
template <class T>
std::unique_ptr<Backend> make_backend(const BackendArgs& args) {
  return std::make_unique<T>(args);
}

// The seven command names, for flags every command of a backend takes.
const std::vector<std::string>& all_commands();

// The built-in backends' rows, each defined in its own file (<name>_backend.cpp).
BackendInfo sagemaker_backend_info();
BackendInfo batch_backend_info();
BackendInfo local_backend_info();

}  // namespace assay::submit
