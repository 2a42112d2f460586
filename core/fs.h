// File helpers with the failure semantics the run folder needs: whole-file reads that name the
// path on failure, atomic replacement (a reader sees the old file or the new one, never half),
// and an append-only line writer that can fsync after each batch.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace assay {

// Reads a whole file. Throws assay::Error: not found (no such file), invalid input (a directory),
// i/o (read failure), each naming the path.
std::string read_file(const std::filesystem::path& path);

// Replaces `path` atomically: writes a temporary file in the same directory, fsyncs it, renames
// it over `path` and fsyncs the directory. Creates parent directories. Throws assay::Error (i/o).
void atomic_write(const std::filesystem::path& path, std::string_view content);

// Appends lines to a file (created if missing). `sync()` flushes and fsyncs: call it once per
// batch so that a crash loses at most the batch in flight. Not thread-safe.
class AppendFile {
 public:
  explicit AppendFile(const std::filesystem::path& path);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // Writes `line` followed by '\n'. `line` must not contain a newline.
  void append_line(std::string_view line);
  // Flushes and fsyncs. Throws assay::Error (i/o).
  void sync();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// Truncates `path` to `size` bytes (used to drop a torn last line before appending again).
void truncate_file(const std::filesystem::path& path, std::uintmax_t size);

}  // namespace assay
