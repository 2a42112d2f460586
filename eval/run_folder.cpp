#include "eval/run_folder.h"

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
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
}  // namespace

const std::vector<std::string>& RunFolder::owned_files() {
  static const std::vector<std::string> files = {"manifest.json", "generations.jsonl",
                                                 "scores.jsonl",  "summary.json",
                                                 "report.md",     "report.html"};
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
  fs::path manifest_path = dir_ / "manifest.json";
  std::error_code ec;
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
      state_ =
          old.value("status", "") == "completed" ? FolderState::kCompleted : FolderState::kResume;
      if (state_ == FolderState::kCompleted) manifest_ = old;
      return;
    }
    if (!overwrite) {
      std::string why;
      if (!old.is_object()) {
        why = "its manifest.json is unreadable";
      } else if (old.value("command", "") != identity_.command) {
        why = "it holds an `evaluate " + old.value("command", std::string("?")) + "` run";
      } else if (old.value("inputs", json()) != identity_.inputs) {
        why = "its inputs differ (e.g. the dataset file changed)";
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
  if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec)) {
    throw_invalid(dir_.string() + ": output path exists and is not a directory");
  }
  if (fs::is_directory(dir_, ec) && !fs::is_empty(dir_, ec) && !overwrite) {
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
