// The run folder and its manifest.json: what a run is (command, config hash, input
// fingerprints), how far it got (status running -> completed | failed | interrupted), versions
// and timings. It decides what a rerun does: the same identity and completed -> nothing to do;
// the same identity not completed -> resume; a different identity -> refuse unless overwrite.
// One process at a time works in a run folder: it holds the folder's lock (core/fs.h FolderLock).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/fs.h"

namespace assay::eval {

// What makes two runs the same run.
struct RunIdentity {
  std::string command;      // "score", "run"
  std::string config_hash;  // ResolvedConfig::identity_hash()
  nlohmann::json inputs;    // fingerprints, e.g. {"dataset_sha256": "..."}
};

enum class FolderState {
  kFresh,      // nothing there yet (or overwritten): start from scratch
  kResume,     // the same run was started before and did not complete
  kCompleted,  // the same run already completed and its outputs are intact: nothing to do
};

class RunFolder {
 public:
  // Opens `dir` for a run with `identity`: creates it and takes its lock (held until destruction)
  // before looking inside. A completed run whose recorded outputs are missing or changed resumes
  // (with a warning naming the file). Throws assay::Error (invalid input) when `dir` cannot be
  // created, another process holds its lock (naming its pid and host), or the folder holds a
  // different run (naming the changed config keys or inputs) or non-Assay files, unless
  // `overwrite`, which deletes the previous run's files first.
  RunFolder(std::filesystem::path dir, RunIdentity identity, nlohmann::json redacted_config,
            bool overwrite);

  FolderState state() const { return state_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }

  // Writes manifest.json with status "running" (records start time, config, versions).
  void mark_running();
  // Adds fields to the manifest (e.g. dataset details, timings) and rewrites it atomically.
  void update(const nlohmann::json& fields);
  // Final states; each rewrites manifest.json atomically. Completed also records the size and
  // SHA-256 of each output file present (output_files()) under "outputs".
  void mark_completed();
  void mark_failed(const std::string& reason);
  void mark_interrupted();

  const nlohmann::json& manifest() const { return manifest_; }

  // The files a run writes (removed by overwrite).
  static const std::vector<std::string>& owned_files();
  // The files whose size and SHA-256 a completed manifest records and a rerun verifies.
  static const std::vector<std::string>& output_files();

 private:
  void write();
  void finish(const std::string& status);

  std::filesystem::path dir_;
  std::optional<FolderLock> lock_;  // taken first, released last
  RunIdentity identity_;
  nlohmann::json manifest_;
  FolderState state_ = FolderState::kFresh;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace assay::eval
