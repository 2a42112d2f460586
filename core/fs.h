// File helpers with the failure semantics the run folder needs: whole-file reads that name the
// path on failure, atomic replacement (a reader sees the old file or the new one, never half),
// an append-only line writer that can fsync after each batch, and an exclusive lock per folder.
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
  // Hands what was written to the kernel (it then survives a crash of this process, not of the
  // machine). Throws assay::Error (i/o).
  void flush();
  // Flushes and fsyncs. Throws assay::Error (i/o).
  void sync();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// Truncates `path` to `size` bytes (used to drop a torn last line before appending again).
void truncate_file(const std::filesystem::path& path, std::uintmax_t size);

// An exclusive lock on a folder, held while the object lives: flock(LOCK_EX | LOCK_NB) on the
// file kFileName inside it, which then holds "<pid> <host>" of the holder. The kernel drops the
// lock when its holder exits, however it exits, so a lock file left behind never blocks. The lock
// belongs to an open file description: a second FolderLock on the same folder fails, in this
// process too. On network file systems (NFS, Lustre) flock may be local to one host and then
// does not exclude a process on another host.
class FolderLock {
 public:
  static constexpr const char* kFileName = ".assay.lock";

  // Locks `dir`, which must exist. Throws assay::Error: invalid input when another holds the lock
  // (naming the folder and the holder's pid and host), i/o when the lock file cannot be opened.
  explicit FolderLock(const std::filesystem::path& dir);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace assay
