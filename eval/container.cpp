#include "eval/container.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr size_t kFailureBytes = 1024;

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// Regular, non-hidden files of `dir` whose extension (lowercase) is one of `exts`, sorted.
std::vector<fs::path> files_with(const fs::path& dir, std::initializer_list<const char*> exts) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_regular_file(ec)) continue;
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* e : exts) {
      if (lower.ends_with(e)) {
        out.push_back(entry.path());
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string names(const std::vector<fs::path>& files) {
  std::string out;
  for (const auto& f : files) out += (out.empty() ? "" : ", ") + f.filename().string();
  return out;
}

json read_json_file(const fs::path& file) {
  std::string text = read_file(file);
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) throw_invalid(file.string() + ": not valid JSON");
  return doc;
}

bool is_model_folder(const fs::path& dir) {
  return path_exists(dir / "config.json") || path_exists(dir / "adapter_config.json");
}

// The model in a model channel: the folder itself (config.json or adapter_config.json), its one
// model archive (*.tar.gz), or its one sub-folder holding a model. "" with `error` set otherwise;
// "" without error when the channel is missing or empty.
fs::path pick_model(const fs::path& channel, std::string& error) {
  std::error_code ec;
  if (!fs::is_directory(channel, ec) || fs::is_empty(channel, ec)) return {};
  if (is_model_folder(channel)) return channel;
  auto archives = files_with(channel, {".tar.gz"});
  if (archives.size() == 1) return archives[0];
  if (archives.size() > 1) {
    error = channel.string() + ": several model archives (" + names(archives) +
            "); the model channel must hold one model";
    return {};
  }
  std::vector<fs::path> subdirs;
  for (const auto& entry : fs::directory_iterator(channel, ec)) {
    if (entry.is_directory(ec) && is_model_folder(entry.path())) subdirs.push_back(entry.path());
  }
  if (subdirs.size() == 1) return subdirs[0];
  error = channel.string() +
          ": holds no model: expected config.json (a Hugging Face folder), adapter_config.json "
          "(a LoRA adapter) or one model.tar.gz";
  return {};
}

// SageMaker passes every hyperparameter as a string; the Python SDK's framework estimators
// JSON-encode them first ("\"squad\""). A value that is a JSON string literal is unwrapped once.
std::string unwrap_json_string(const std::string& text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    json v = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (v.is_string()) return v.get<std::string>();
  }
  return text;
}

void read_hyperparameters(const fs::path& file, ConfigSources& sources) {
  if (!path_exists(file)) return;
  json doc = read_json_file(file);
  if (!doc.is_object()) throw_invalid(file.string() + ": hyperparameters must be a JSON object");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    if (key.starts_with("sagemaker_")) {  // set by SageMaker's SDKs, not for the evaluation
      log::debug("ignoring SageMaker's own hyperparameter", {{"key", key}});
      continue;
    }
    std::string what = file.string() + ": hyperparameter '" + key + "'";
    if (!it.value().is_string()) {
      throw_invalid(what + " must be a string (SageMaker passes hyperparameters as strings), got " +
                    it.value().type_name());
    }
    json value = parse_config_text(key, unwrap_json_string(it.value().get<std::string>()), what);
    sources.hyperparameters.push_back({key, std::move(value), "hyperparameter " + key});
  }
}

void read_resource_config(const fs::path& file, ContainerLayout& layout) {
  if (!path_exists(file)) return;
  json doc = read_json_file(file);
  const std::string label = file.string();
  if (!doc.is_object()) throw_invalid(label + ": must be a JSON object");
  if (!doc.contains("current_host") || !doc["current_host"].is_string()) {
    throw_invalid(label + ": `current_host` must be a string");
  }
  if (!doc.contains("hosts") || !doc["hosts"].is_array()) {
    throw_invalid(label + ": `hosts` must be an array of strings");
  }
  std::vector<std::string> hosts;
  for (const auto& h : doc["hosts"]) {
    if (!h.is_string()) throw_invalid(label + ": `hosts` must be an array of strings");
    hosts.push_back(h.get<std::string>());
  }
  std::string current = doc["current_host"].get<std::string>();
  layout.shard = shard_for_host(current, hosts, label);
  layout.info["current_host"] = current;
  layout.info["hosts"] = hosts;
}
}  // namespace

Contract parse_contract(const std::string& text) {
  if (text == "processing") return Contract::kProcessing;
  if (text == "training") return Contract::kTraining;
  if (text == "none") return Contract::kNone;
  throw_invalid("--contract='" + text + "': must be auto, processing, training or none");
}

const char* contract_name(Contract c) {
  switch (c) {
    case Contract::kProcessing:
      return "processing";
    case Contract::kTraining:
      return "training";
    case Contract::kNone:
      return "none";
  }
  return "none";
}

ContainerLayout detect_container(const ContainerOptions& options) {
  ContainerLayout layout;
  std::string root = options.sm_root;
  if (root.empty()) {
    const char* env = std::getenv("SM_ROOT");
    root = (env != nullptr && *env != '\0') ? env : "/opt/ml";
  }
  layout.root = root;
  if (options.contract.empty() || options.contract == "auto") {
    if (path_exists(layout.root / "processing" / "input")) {
      layout.contract = Contract::kProcessing;
    } else if (path_exists(layout.root / "input" / "data") ||
               path_exists(layout.root / "input" / "config")) {
      layout.contract = Contract::kTraining;
    }
  } else {
    layout.contract = parse_contract(options.contract);
  }
  if (layout.contract == Contract::kProcessing) {
    layout.failure_file = layout.root / "output" / "message";
  } else if (layout.contract == Contract::kTraining) {
    layout.failure_file = layout.root / "output" / "failure";
    layout.export_dir = layout.root / "output" / "data";
  }
  return layout;
}

fs::path pick_data_file(const fs::path& channel) {
  std::error_code ec;
  if (!fs::is_directory(channel, ec)) {
    throw_not_found(channel.string() +
                    ": the data channel does not exist (put one .jsonl or "
                    ".json test set there, or set DATASET_PATH)");
  }
  auto files = files_with(channel, {".jsonl", ".json"});
  if (files.empty()) {
    throw_invalid(channel.string() + ": the data channel holds no .jsonl or .json file");
  }
  if (files.size() > 1) {
    throw_invalid(channel.string() + ": the data channel holds several test sets (" + names(files) +
                  "); keep one, or name it with DATASET_PATH / --dataset");
  }
  return files[0];
}

void read_container_inputs(ContainerLayout& layout, ConfigSources& sources) {
  if (layout.contract == Contract::kNone) return;
  const bool processing = layout.contract == Contract::kProcessing;
  const fs::path inputs =
      processing ? layout.root / "processing" / "input" : layout.root / "input" / "data";
  const fs::path config_dir =
      processing ? layout.root / "config" : layout.root / "input" / "config";
  const std::string origin = std::string("container layout (") + contract_name(layout.contract) +
                             " job, " + layout.root.string() + ")";
  layout.info["contract"] = contract_name(layout.contract);
  layout.info["sm_root"] = layout.root.string();

  fs::path model = pick_model(inputs / "model", layout.model_error);
  if (!model.empty()) sources.container.push_back({"model", model.string(), origin});
  try {
    sources.container.push_back({"dataset", pick_data_file(inputs / "data").string(), origin});
  } catch (const Error& e) {
    layout.dataset_error = e.what();
  }
  fs::path output =
      processing ? layout.root / "processing" / "output" / "eval" : layout.root / "model";
  sources.container.push_back({"output", output.string(), origin});

  if (!sources.file && fs::is_directory(inputs / "config")) {
    auto configs = files_with(inputs / "config", {".json", ".yaml", ".yml"});
    if (configs.size() > 1) {
      throw_invalid((inputs / "config").string() + ": the config channel holds several files (" +
                    names(configs) + "); keep one run config");
    }
    if (configs.size() == 1) sources.file = configs[0];  // JSON or YAML (eval/config_file.h)
  }
  if (!processing) read_hyperparameters(config_dir / "hyperparameters.json", sources);
  read_resource_config(config_dir / "resourceconfig.json", layout);
  if (processing) {
    fs::path job = config_dir / "processingjobconfig.json";
    if (path_exists(job)) {
      json doc = json::parse(read_file(job), nullptr, /*allow_exceptions=*/false);
      if (doc.is_object() && doc.contains("ProcessingJobName") &&
          doc["ProcessingJobName"].is_string()) {
        layout.info["job_name"] = doc["ProcessingJobName"];
      } else {
        log::warn("processingjobconfig.json has no ProcessingJobName; ignored",
                  {{"file", job.string()}});
      }
    }
  } else if (const char* name = std::getenv("TRAINING_JOB_NAME"); name != nullptr && *name) {
    layout.info["job_name"] = name;
  }
  log::info("SageMaker container layout",
            {{"contract", contract_name(layout.contract)}, {"root", layout.root.string()}});
}

void write_failure_reason(const ContainerLayout& layout, const std::string& reason) {
  if (layout.failure_file.empty()) return;
  std::string text = log::redact(reason);
  if (text.size() > kFailureBytes) {
    size_t cut = kFailureBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
  }
  try {
    atomic_write(layout.failure_file, text);
  } catch (const std::exception& e) {
    log::error("could not write the failure reason",
               {{"file", layout.failure_file.string()}, {"error", e.what()}});
  }
}

void export_results(const ContainerLayout& layout, const fs::path& run_dir,
                    const ShardSpec& shard) {
  if (layout.export_dir.empty()) return;
  fs::path dest = shard_output_dir(layout.export_dir, shard);
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec) throw_io(dest.string() + ": cannot create: " + ec.message());
  for (const char* name : {"manifest.json", "summary.json", "scores.jsonl", "report.md",
                           "report.html", "compare.json"}) {
    if (!path_exists(run_dir / name)) continue;
    fs::copy_file(run_dir / name, dest / name, fs::copy_options::overwrite_existing, ec);
    if (ec) throw_io((dest / name).string() + ": cannot copy: " + ec.message());
  }
}

}  // namespace assay::eval
