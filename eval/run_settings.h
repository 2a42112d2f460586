// Typed settings read from a resolved config: what the commands use, validated once.
#pragma once

#include <string>
#include <vector>

#include "eval/config.h"
#include "eval/dataset.h"
#include "scoring/scorer.h"

namespace assay::eval {

struct RunSettings {
  std::string model;    // "" when unset
  std::string dataset;  // "" when unset
  std::string output;   // "" when unset
  bool dummy = false;
  std::string device = "cpu";
  DatasetFields fields;
  std::vector<scoring::MetricRequest> metrics;
  scoring::BootstrapOptions bootstrap;
};

// Reads and validates the typed settings. Throws assay::Error (invalid input) naming the key
// and where its value came from (file, env, flag).
RunSettings run_settings_from(const ResolvedConfig& cfg);

}  // namespace assay::eval
