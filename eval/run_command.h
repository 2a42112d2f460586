// `evaluate run`: the whole job. Resolves the config, loads the dataset (dummy: the first N
// samples) and the model (dummy without a model: the bundled stories260K), generates an answer
// per sample with continuous batching into generations.jsonl (resumable), scores the answers
// with the local metrics and the judges, and writes scores.jsonl, summary.json, manifest.json.
#pragma once

#include <filesystem>
#include <ostream>

#include "eval/config.h"
#include "eval/container.h"

namespace assay::eval {

struct RunCommandOptions {
  ConfigSources sources;   // config file, environment, flags
  bool overwrite = false;  // replace a different run in the output folder
  ContainerOptions container;  // SageMaker layout: --sm-root, --contract
  std::string shard;           // "i/n" (--shard): this run's slice; "" = resourceconfig.json or all
};

// Runs the command; prints progress to the log and the summary table to `out`. Returns the exit
// code: 0 ok, 130/143 when SIGINT/SIGTERM stopped it (outputs flushed, a rerun resumes). Throws
// assay::Error for bad input (exit 2) or runtime failures (the manifest records the failure).
// In a SageMaker container (container.h) the layout supplies the inputs and the output folder,
// a failure's reason is also written where SageMaker reads it, and a run over several hosts
// evaluates this host's shard (shard.h) into <output>/shard-<i>-of-<n>.
int run_run_command(const RunCommandOptions& options, std::ostream& out);

// The bundled tiny model (models/stories260K) used by dummy runs without a model. Looks in, in
// order: $ASSAY_MODEL_DIR; <directory of the running executable>/../share/assay/models/stories260K
// (the build tree and an install tree); <source tree>/models/stories260K (compiled in). Returns
// the first folder holding config.json. Throws assay::Error (not found) listing where it looked.
std::filesystem::path find_bundled_model();

// A cheap fingerprint of a model: SHA-256 over config.json (and adapter_config.json) bytes and,
// for each *.safetensors file, its name, size and JSON header. For a model archive file: its
// size and the SHA-256 of its first and last MiB. Throws assay::Error (not found / i/o).
std::string model_fingerprint(const std::filesystem::path& model);

}  // namespace assay::eval
