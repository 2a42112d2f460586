// The flags of the commands that read a run config (run, score; compare and gate take -c only):
// each sets one config key, beating the environment and the config file (eval/config.h).
#pragma once

#include <string>

#include "eval/config.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

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
  int judge_repeats = 0;          // 0 = not given
  std::string judge_calibration;  // "" = not given

  // Adds every flag above to `cmd`.
  void add_to(CLI::App* cmd);
  // The config file (from --config or EVAL_CONFIG) and the given flags, keyed by config path.
  ConfigSources sources() const;
};

// Only --config (-c): for compare and gate.
ConfigSources config_file_sources(const std::string& config);

// Makes a --max-new-tokens option accept only a whole number in generation.max_new_tokens's
// range, 0..1048576, with a message that says so.
void check_max_new_tokens(CLI::Option* option);

// Splits "a, b,,c" into {"a", "b", "c"}: spaces around an item are dropped, empty items skipped.
std::vector<std::string> split_commas(const std::string& text);

}  // namespace assay::eval
