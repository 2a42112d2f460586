// The project's one error hierarchy: an assay::Error ends a run, carries a kind (which maps to an
// exit code) and a message that names the file, line or field at fault. Per-item failures that
// the run survives are values, not exceptions (docs/architecture.md, "Errors").
#pragma once

#include <stdexcept>
#include <string>

namespace assay {

enum class ErrorKind {
  kInvalidInput,  // bad flag, config, dataset or model file: the user must fix it (exit 2)
  kNotFound,      // a named file or resource does not exist (exit 2)
  kIo,            // the file system failed under us (exit 4: a rerun resumes)
  kRemote,        // a remote service failed after retries (exit 4)
  kInternal,      // a broken invariant: a bug in Assay (exit 4)
};

// Exit codes of every Assay binary (README.md, "Logs and exit codes").
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitGateFailed = 3;
inline constexpr int kExitRuntime = 4;
inline constexpr int kExitSigint = 130;
inline constexpr int kExitSigterm = 143;

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  // The process exit code this error maps to.
  int exit_code() const;

 private:
  ErrorKind kind_;
};

// Short name of a kind, for logs: "invalid input", "not found", "i/o", "remote", "internal".
const char* error_kind_name(ErrorKind kind);

// Convenience throwers; each prefixes nothing, so the message must already name what is at fault.
[[noreturn]] void throw_invalid(const std::string& message);
[[noreturn]] void throw_not_found(const std::string& message);
[[noreturn]] void throw_io(const std::string& message);
[[noreturn]] void throw_internal(const std::string& message);

}  // namespace assay

// ASSAY_CHECK guards internal invariants; it must never fire on user input (validate that with
// throw_invalid instead). On failure it throws an Error of kind kInternal naming the site.
#define ASSAY_CHECK(cond)                                                              \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      ::assay::throw_internal(std::string("internal check failed: ") + #cond + " at " + \
                              __FILE__ + ":" + std::to_string(__LINE__));              \
    }                                                                                  \
  } while (0)
