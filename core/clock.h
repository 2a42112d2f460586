// Wall-clock helpers shared by logs and manifests.
#pragma once

#include <string>

namespace assay {

// The current UTC time as ISO-8601 with milliseconds, e.g. "2026-11-22T03:04:05.678Z".
std::string utc_now_iso();

}  // namespace assay
