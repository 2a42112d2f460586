// Where a model's files are: resolves what the user named (a model folder, a LoRA adapter folder,
// or a model.tar.gz) into the base weights folder, the adapter folder and the tokenizer folder.
// Torch-free, so `evaluate inspect` can use it without loading weights.
#pragma once

#include <filesystem>
#include <memory>

#include "inference/model_archive.h"

namespace assay::inference {

struct ModelFiles {
  std::filesystem::path weights_dir;  // config.json + *.safetensors (the base, for an adapter)
  std::filesystem::path
      adapter_dir;  // adapter_config.json + adapter_model.safetensors; empty if none
  std::filesystem::path
      tokenizer_dir;  // the adapter folder when it ships a tokenizer, else weights_dir
  std::unique_ptr<TempDir> unpacked;  // owns the unpacked archive, if any (removed with this)
};

// Resolves `model` (folder or .tar.gz/.tgz/.tar, unpacked safely into a temp folder; the model
// folder may sit at the archive root or one level down). For an adapter the base comes from
// `base_model` when non-empty, else from adapter_config.json's base_model_name_or_path when that
// is a local folder. Throws assay::Error: not found (no such path), invalid input (no
// config.json/adapter_config.json, several candidate folders, an adapter whose base is a hub id
// and no --base-model), naming the path.
ModelFiles resolve_model_files(const std::filesystem::path& model,
                               const std::filesystem::path& base_model = {});

}  // namespace assay::inference
