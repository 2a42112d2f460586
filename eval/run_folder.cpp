#include "eval/run_folder.h"

#include <algorithm>
#include <optional>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/version.h"
#include "eval/config.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr int kManifestSchema = 1;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// A fingerprint for a message: hashes cut to 12 hex characters, a missing one "none".
std::string short_value(const json& v) {
  if (v.is_null()) return "none";
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  return s.size() == 64 ? s.substr(0, 12) : s;
}

// Which inputs differ, model first: "model fingerprint 0123456789ab -> ba9876543210".
std::string changed_inputs(const json& old_inputs, const json& new_inputs) {
  static const std::vector<std::pair<std::string, std::string>> kLabels = {
      {"model_fingerprint", "model fingerprint"},
      {"dataset_sha256", "dataset SHA-256"},
      {"shard", "shard"}};
  auto value = [](const json& inputs, const std::string& key) {
    return inputs.is_object() && inputs.contains(key) ? inputs[key] : json();
  };
  std::vector<std::string> keys;
  for (const auto& [key, label] : kLabels) keys.push_back(key);
  for (const json* inputs : {&old_inputs, &new_inputs}) {
    if (!inputs->is_object()) continue;
    for (auto it = inputs->begin(); it != inputs->end(); ++it) {
      if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) keys.push_back(it.key());
    }
  }
  std::vector<std::string> changed;
  for (const auto& key : keys) {
    json before = value(old_inputs, key), after = value(new_inputs, key);
    if (before == after) continue;
    std::string label = key;
    for (const auto& [k, l] : kLabels) {
      if (k == key) label = l;
    }
    changed.push_back(label + " " + short_value(before) + " -> " + short_value(after));
  }
  return join(changed);
}

// The first output recorded in a completed manifest that is missing or differs now, or nullopt.
std::optional<std::string> changed_output(const fs::path& dir, const json& manifest) {
  const json outputs = manifest.value("outputs", json::object());
  for (auto it = outputs.begin(); it != outputs.end(); ++it) {
    const fs::path path = dir / it.key();
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec || !it.value().is_object() || size != it.value().value("size", std::uintmax_t{0}) ||
        sha256_file(path) != it.value().value("sha256", std::string())) {
      return it.key();
    }
  }
  return std::nullopt;
}

// Whether `dir` holds nothing but the lock file.
bool holds_only_lock(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename() != FolderLock::kFileName) return false;
  }
  return true;
}
}  // namespace

const std::vector<std::string>& RunFolder::owned_files() {
  static const std::vector<std::string> files = {"manifest.json", "generations.jsonl",
                                                 "scores.jsonl",  "summary.json",
                                                 "report.md",     "report.html"};
  return files;
}

const std::vector<std::string>& RunFolder::output_files() {
  static const std::vector<std::string> files = {"generations.jsonl", "scores.jsonl",
                                                 "summary.json"};
  return files;
}

RunFolder::RunFolder(fs::path dir, RunIdentity identity, json redacted_config, bool overwrite)
    : dir_(std::move(dir)), identity_(std::move(identity)) {
  manifest_ = {{"schema_version", kManifestSchema},
               {"tool", "assay"},
               {"command", identity_.command},
               {"status", "running"},
               {"config", std::move(redacted_config)},
               {"config_hash", identity_.config_hash},
               {"inputs", identity_.inputs}};
  std::error_code ec;
  if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec)) {
    throw_invalid(dir_.string() + ": output path exists and is not a directory");
  }
  fs::create_directories(dir_, ec);
  if (ec) throw_invalid(dir_.string() + ": cannot create the output folder: " + ec.message());
  lock_.emplace(dir_);  // before anything is inspected: two processes never both decide
  fs::path manifest_path = dir_ / "manifest.json";
  if (fs::exists(manifest_path, ec)) {
    json old;
    try {
      old = json::parse(read_file(manifest_path));
    } catch (const json::exception&) {
      old = json();  // unreadable manifest: treat as a foreign run
    }
    bool same = old.is_object() && old.value("command", "") == identity_.command &&
                old.value("config_hash", "") == identity_.config_hash &&
                old.value("inputs", json()) == identity_.inputs;
    if (same) {
      state_ = FolderState::kResume;
      if (old.value("status", "") != "completed") return;
      if (auto file = changed_output(dir_, old)) {
        log::warn("a file of this completed run is missing or changed; resuming to rebuild it",
                  {{"file", (dir_ / *file).string()}});
        return;
      }
      state_ = FolderState::kCompleted;
      manifest_ = old;
      return;
    }
    if (!overwrite) {
      std::string why;
      if (!old.is_object()) {
        why = "its manifest.json is unreadable";
      } else if (old.value("command", "") != identity_.command) {
        why = "it holds an `evaluate " + old.value("command", std::string("?")) + "` run";
      } else if (old.value("inputs", json()) != identity_.inputs) {
        why = "its inputs differ (" +
              changed_inputs(old.value("inputs", json()), identity_.inputs) + ")";
      } else {
        auto changed =
            ResolvedConfig::changed_keys(old.value("config", json::object()), manifest_["config"]);
        why = "it was made with a different config" +
              (changed.empty() ? std::string() : " (changed: " + join(changed) + ")");
      }
      throw_invalid(dir_.string() + ": refusing to reuse this output folder: " + why +
                    ". Pass --overwrite to replace it, or choose another --output");
    }
    for (const auto& name : owned_files()) fs::remove(dir_ / name, ec);
    return;
  }
  if (!holds_only_lock(dir_) && !overwrite) {
    throw_invalid(dir_.string() +
                  ": output folder is not empty and holds no Assay run (no manifest.json); "
                  "choose an empty or new folder, or pass --overwrite");
  }
  if (overwrite) {
    for (const auto& name : owned_files()) fs::remove(dir_ / name, ec);
  }
}

void RunFolder::write() {
  atomic_write(dir_ / "manifest.json", manifest_.dump(2) + "\n");
}

void RunFolder::mark_running() {
  started_ = std::chrono::steady_clock::now();
  manifest_["status"] = "running";
  manifest_["versions"] = {{"assay", kVersion},
                           {"compiler", __VERSION__},
                           {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                                                 std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                                                 std::to_string(NLOHMANN_JSON_VERSION_PATCH)}};
  manifest_["timings"] = {{"started_at", utc_now_iso()}};
  manifest_.erase("error");
  write();
}

void RunFolder::update(const json& fields) {
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (it.value().is_object() && manifest_.contains(it.key()) && manifest_[it.key()].is_object()) {
      manifest_[it.key()].update(it.value());
    } else {
      manifest_[it.key()] = it.value();
    }
  }
  write();
}

void RunFolder::finish(const std::string& status) {
  manifest_["status"] = status;
  manifest_["timings"]["finished_at"] = utc_now_iso();
  manifest_["timings"]["total_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  write();
}

void RunFolder::mark_completed() {
  json outputs = json::object();
  for (const auto& name : output_files()) {
    std::error_code ec;
    const auto size = fs::file_size(dir_ / name, ec);
    if (!ec) outputs[name] = {{"size", size}, {"sha256", sha256_file(dir_ / name)}};
  }
  manifest_["outputs"] = std::move(outputs);
  finish("completed");
}

void RunFolder::mark_failed(const std::string& reason) {
  manifest_["error"] = log::redact(reason);
  finish("failed");
}

void RunFolder::mark_interrupted() {
  finish("interrupted");
}

}  // namespace assay::eval
