// Where a run's model comes from and what identifies it: the bundled tiny model of dummy runs
// and the model fingerprint that is part of a run folder's identity.
#pragma once

#include <filesystem>
#include <string>

namespace assay::eval {

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
