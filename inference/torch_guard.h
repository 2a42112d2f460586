// libtorch's exceptions as assay::Error, for the inference sources that call libtorch (only
// inference/*.cpp include torch: a header that does is never included outside inference/).
#pragma once

#include <string>

#include <c10/util/Exception.h>

#include "core/error.h"

namespace assay::inference {

// Runs `fn`, turning libtorch's exceptions into assay::Error (internal) with `what` as context.
template <typename Fn>
auto guard_torch(const std::string& what, Fn&& fn) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    throw_internal(what + ": libtorch failed: " + e.what_without_backtrace());
  }
}

}  // namespace assay::inference
