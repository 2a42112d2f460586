#include "inference/model_files.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace assay::inference {
namespace fs = std::filesystem;

namespace {

bool is_model_folder(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "config.json", ec) || fs::exists(dir / "adapter_config.json", ec);
}

bool has_tokenizer(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "tokenizer.json", ec) || fs::exists(dir / "tokenizer.model", ec);
}

// The model folder at `root` or exactly one level below it.
fs::path find_model_folder(const fs::path& root, const std::string& what) {
  if (is_model_folder(root)) return root;
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory(ec) && !entry.is_symlink(ec) && is_model_folder(entry.path()))
      found.push_back(entry.path());
  }
  if (found.size() == 1) return found[0];
  if (found.empty())
    throw_invalid(what + ": no config.json or adapter_config.json (looked one folder deep)");
  throw_invalid(what + ": several model folders inside (" + found[0].filename().string() + ", " +
                found[1].filename().string() + ", ...); name one");
}

}  // namespace

ModelFiles resolve_model_files(const fs::path& model, const fs::path& base_model) {
  ModelFiles files;
  std::error_code ec;
  if (!fs::exists(model, ec)) throw_not_found(model.string() + ": no such model file or folder");
  fs::path root = model;
  std::string what = model.string();
  if (!fs::is_directory(model, ec)) {
    if (!is_model_archive(model)) {
      throw_invalid(what + ": not a model folder or a .tar.gz/.tgz/.tar archive");
    }
    files.unpacked = std::make_unique<TempDir>("assay-model-");
    unpack_archive(model, files.unpacked->path());
    root = files.unpacked->path();
    what = model.string() + " (unpacked)";
  }
  const fs::path folder = find_model_folder(root, what);
  if (fs::exists(folder / "adapter_config.json", ec) && !fs::exists(folder / "config.json", ec)) {
    files.adapter_dir = folder;
    fs::path base = base_model;
    if (base.empty()) {
      const fs::path config_path = folder / "adapter_config.json";
      nlohmann::json config;
      try {
        config = nlohmann::json::parse(read_file(config_path));
      } catch (const nlohmann::json::exception& e) {
        throw_invalid(config_path.string() + ": not valid JSON: " + e.what());
      }
      std::string name;
      if (config.is_object() && config.contains("base_model_name_or_path") &&
          config["base_model_name_or_path"].is_string()) {
        name = config["base_model_name_or_path"].get<std::string>();
      }
      if (name.empty() || !fs::is_directory(name, ec)) {
        throw_invalid(config_path.string() + ": field 'base_model_name_or_path' ('" + name +
                      "') is not a local folder; pass the base model with --base-model");
      }
      base = name;
    }
    ModelFiles base_files = resolve_model_files(base, {});
    if (!base_files.adapter_dir.empty())
      throw_invalid(base.string() + ": the base model is itself an adapter");
    files.weights_dir = base_files.weights_dir;
    files.tokenizer_dir = has_tokenizer(folder) ? folder : base_files.tokenizer_dir;
    if (base_files.unpacked) {
      // Keep the base's unpacked folder alive too: nest its ownership under ours.
      if (!files.unpacked)
        files.unpacked = std::move(base_files.unpacked);
      else
        throw_invalid(model.string() +
                      ": an archived adapter with an archived base is not supported; unpack one");
    }
    return files;
  }
  files.weights_dir = folder;
  files.tokenizer_dir = folder;
  return files;
}

}  // namespace assay::inference
