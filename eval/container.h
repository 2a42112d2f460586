// The SageMaker container contracts of `evaluate run`: where a Processing job or a Training job
// puts the inputs (model, data, config), the host list (resourceconfig.json), the training job's
// hyperparameters, where results go and where a failure reason goes. The root (/opt/ml) can be
// moved (--sm-root, SM_ROOT) for local runs and tests. The layout only supplies defaults: a
// config file, hyperparameters, environment variables and flags override it (config.h).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "eval/config.h"
#include "eval/shard.h"

namespace assay::eval {

enum class Contract { kNone, kProcessing, kTraining };

struct ContainerOptions {
  std::string sm_root;            // "" = $SM_ROOT, else /opt/ml
  std::string contract = "auto";  // auto, processing, training or none
};

// What the container layout says about this run. With Contract::kNone every field is empty and
// the run behaves as outside a container.
struct ContainerLayout {
  Contract contract = Contract::kNone;
  std::filesystem::path root;                      // the /opt/ml root
  std::filesystem::path failure_file;              // output/message or output/failure; "" for none
  std::filesystem::path export_dir;                // training: output/data (copies of the results)
  std::optional<ShardSpec> shard;                  // from resourceconfig.json, when present
  nlohmann::json info = nlohmann::json::object();  // recorded in manifest.json "container"
  // Why the data channel gave no dataset (none or several files); raised only when no other
  // source (config file, hyperparameter, env, flag) names the dataset. Same for the model.
  std::string dataset_error;
  std::string model_error;
};

// Parses a --contract value. Throws assay::Error (invalid input) for anything but auto,
// processing, training, none.
Contract parse_contract(const std::string& text);
const char* contract_name(Contract c);

// Decides the contract: the flag, or (auto) processing when <root>/processing/input exists,
// training when <root>/input/data or <root>/input/config exists, else none. Reads nothing else;
// throws assay::Error (invalid input) only for a bad --contract value.
ContainerLayout detect_container(const ContainerOptions& options);

// Reads the layout of a detected contract into `layout` and `sources`: the model, data and
// config channels (sources.container; sources.file when no config file was given), the training
// hyperparameters (sources.hyperparameters), the output folder, resourceconfig.json (the shard)
// and processingjobconfig.json. Throws assay::Error (invalid input) naming the file and key:
// several config files in the config channel, a malformed resourceconfig.json or
// hyperparameters.json, a hyperparameter that is not a string, an unknown key or a bad value.
void read_container_inputs(ContainerLayout& layout, ConfigSources& sources);

// Picks the one dataset file (.jsonl or .json) of a data channel folder. Throws assay::Error
// (invalid input / not found) naming the folder when it holds none or several.
std::filesystem::path pick_data_file(const std::filesystem::path& channel);

// Writes the first 1 KB of `reason` (cut at a UTF-8 boundary, secrets redacted) to the
// contract's failure file (SageMaker shows it as the job's failure reason). Does nothing without
// a contract; never throws (a failure to write is logged).
void write_failure_reason(const ContainerLayout& layout, const std::string& reason);

// Training contract: copies the run's results (manifest.json, summary.json, scores.jsonl,
// report.md, report.html, compare.json when present) from `run_dir` into output/data (in the
// shard's sub-folder when sharded). Does nothing for other contracts. Throws assay::Error (i/o).
void export_results(const ContainerLayout& layout, const std::filesystem::path& run_dir,
                    const ShardSpec& shard);

}  // namespace assay::eval
