// The judge cache: every reply a judge model gave, one JSONL line each, keyed by SHA-256 over
// (provider, model, rendered messages, parameters). A line is written and flushed before the
// reply is used, so a rerun or a resumed run finds it and pays for nothing twice. An optional
// shared folder holds a second copy that other runs read.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace assay::judges {

class JudgeCache {
 public:
  // Opens (creating if needed) `run_file`, e.g. <run>/judge_cache.jsonl, and loads its entries;
  // a torn last line (a crash mid-write) is dropped and truncated away. `shared_dir`, when set,
  // is read too and receives every new entry in <shared_dir>/judge_cache.jsonl. Throws
  // assay::Error (i/o, or invalid input for a corrupt middle line naming file:line).
  JudgeCache(const std::filesystem::path& run_file,
             const std::optional<std::filesystem::path>& shared_dir);
  ~JudgeCache();

  // The stored entry for `key`, or nullptr. The pointer is valid until the next put().
  const nlohmann::json* find(const std::string& key) const;
  // Stores `entry` (must contain "key") in memory and appends it to the file(s) with one write(),
  // registered secrets (core/log.h) replaced by "***" in what is written;
  // fsync happens at most every 50 ms and in sync(). Throws assay::Error (i/o).
  void put(const nlohmann::json& entry);
  // Flushes and fsyncs both files.
  void sync();
  size_t size() const { return entries_.size(); }

  // The cache key: SHA-256 hex over the canonical JSON of the four parts.
  static std::string key(const std::string& provider, const std::string& model,
                         const nlohmann::json& messages, const nlohmann::json& parameters);

 private:
  void load(const std::filesystem::path& file, bool truncate_torn);
  std::unordered_map<std::string, nlohmann::json> entries_;
  // Append-only descriptors (O_APPEND): one write() per line, so a crash of this process never
  // loses a line the kernel accepted, and concurrent runs sharing a folder do not interleave.
  int run_fd_ = -1;
  int shared_fd_ = -1;
  std::filesystem::path run_file_, shared_file_;
  std::chrono::steady_clock::time_point last_sync_;
};

}  // namespace assay::judges
