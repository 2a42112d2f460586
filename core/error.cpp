#include "core/error.h"

namespace assay {

int Error::exit_code() const {
  switch (kind_) {
    case ErrorKind::kInvalidInput:
    case ErrorKind::kNotFound:
      return kExitBadInput;
    case ErrorKind::kIo:
    case ErrorKind::kRemote:
    case ErrorKind::kInternal:
      return kExitRuntime;
  }
  return kExitRuntime;
}

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return "invalid input";
    case ErrorKind::kNotFound: return "not found";
    case ErrorKind::kIo: return "i/o";
    case ErrorKind::kRemote: return "remote";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

void throw_invalid(const std::string& message) { throw Error(ErrorKind::kInvalidInput, message); }
void throw_not_found(const std::string& message) { throw Error(ErrorKind::kNotFound, message); }
void throw_io(const std::string& message) { throw Error(ErrorKind::kIo, message); }
void throw_internal(const std::string& message) { throw Error(ErrorKind::kInternal, message); }

}  // namespace assay
