// The flags of the commands that read a run config (run, score; compare and gate take -c only):
// each sets one config key, beating the environment and the config file (eval/config.h).
#pragma once

#include <string>

#include "eval/config.h"

namespace CLI {
class App;
}

namespace assay::eval {

struct ConfigFlags {
  std::string config;  // --config, else $EVAL_CONFIG
  std::string dataset;
  std::string output;
  std::string metrics;  // comma-separated
  std::string reference_field;
  std::string prediction_field;
  std::string id_field;
  std::string judge_rubric;
  std::string judge_provider;
  std::string judge_model;
  std::string judge_base_url;
  int judge_max_concurrency = 0;  // 0 = not given

  // Adds every flag above to `cmd`.
  void add_to(CLI::App* cmd);
  // The config file (from --config or EVAL_CONFIG) and the given flags, keyed by config path.
  ConfigSources sources() const;
};

// Only --config (-c): for compare and gate.
ConfigSources config_file_sources(const std::string& config);

// Splits "a,b,,c" into {"a", "b", "c"}.
std::vector<std::string> split_commas(const std::string& text);

}  // namespace assay::eval
