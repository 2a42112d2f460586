#include "judges/judge_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/sha256.h"

namespace assay::judges {
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
int open_append(const fs::path& file) {
  std::error_code ec;
  if (!file.parent_path().empty()) fs::create_directories(file.parent_path(), ec);
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw_io(file.string() + ": cannot open for append: " + std::strerror(errno));
  return fd;
}

void write_all(int fd, const std::string& data, const fs::path& file) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_io(file.string() + ": write failed: " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}
}  // namespace

JudgeCache::JudgeCache(const fs::path& run_file, const std::optional<fs::path>& shared_dir) {
  if (shared_dir) {
    fs::path shared_file = *shared_dir / "judge_cache.jsonl";
    load(shared_file, /*truncate_torn=*/true);
    shared_file_ = shared_file;
    shared_fd_ = open_append(shared_file);
  }
  load(run_file, /*truncate_torn=*/true);
  run_file_ = run_file;
  run_fd_ = open_append(run_file);
  last_sync_ = std::chrono::steady_clock::now();
}

JudgeCache::~JudgeCache() {
  try {
    sync();
  } catch (...) {
  }
  if (run_fd_ >= 0) ::close(run_fd_);
  if (shared_fd_ >= 0) ::close(shared_fd_);
}

void JudgeCache::load(const fs::path& file, bool truncate_torn) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  JsonlContents contents = read_jsonl(file, TornTail::kDrop);
  if (contents.torn_tail_line && truncate_torn) truncate_file(file, contents.valid_bytes);
  for (auto& rec : contents.records) {
    if (!rec.value.is_object() || !rec.value.contains("key") || !rec.value["key"].is_string()) {
      throw_invalid(file.string() + ":" + std::to_string(rec.line) +
                    ": judge cache entry has no \"key\" string");
    }
    std::string k = rec.value["key"].get<std::string>();
    entries_[k] = std::move(rec.value);
  }
}

const json* JudgeCache::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void JudgeCache::put(const json& entry) {
  std::string line = log::redact(to_jsonl_line(entry)) + "\n";
  write_all(run_fd_, line, run_file_);
  if (shared_fd_ >= 0) write_all(shared_fd_, line, shared_file_);
  entries_[entry.at("key").get<std::string>()] = entry;
  auto now = std::chrono::steady_clock::now();
  if (now - last_sync_ > std::chrono::milliseconds(50)) sync();
}

void JudgeCache::sync() {
  if (run_fd_ >= 0 && ::fsync(run_fd_) != 0) {
    throw_io(run_file_.string() + ": fsync failed: " + std::strerror(errno));
  }
  if (shared_fd_ >= 0 && ::fsync(shared_fd_) != 0) {
    throw_io(shared_file_.string() + ": fsync failed: " + std::strerror(errno));
  }
  last_sync_ = std::chrono::steady_clock::now();
}

std::string JudgeCache::key(const std::string& provider, const std::string& model,
                            const json& messages, const json& parameters) {
  json k = {
      {"provider", provider}, {"model", model}, {"messages", messages}, {"parameters", parameters}};
  return sha256_hex(k.dump());  // nlohmann orders object keys, so the dump is canonical
}

}  // namespace assay::judges
