// Checks a run configuration as `evaluate` will read it, without loading a model or a dataset:
// `evalctl` calls it on a job spec's environment (and its config channel file) before anything
// is staged or created, so a spec evaluate would refuse is refused on the submitting machine.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace assay::eval {

struct RunConfigCheck {
  std::map<std::string, std::string> environment;  // the container's environment variables
  std::optional<std::filesystem::path> file;       // the run config file on this machine, if any
  // A judge API key is fetched inside the container (Secrets Manager): treat the key as set.
  bool api_key_from_secret = false;
};

// Resolves the config (file < environment) and checks what `evaluate` checks
// before it starts: key names and types, IS_DUMMY, metric names (scoring registry), the judge
// settings and rubric (a rubric file is checked only when it exists on this machine; a path
// inside the container is left to evaluate), generation settings and the gates. Throws
// assay::Error (invalid input) naming the key and where its value came from.
void check_run_config(const RunConfigCheck& check);

}  // namespace assay::eval
