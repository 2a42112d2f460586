#include "core/fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "core/error.h"

namespace assay {
namespace fs = std::filesystem;

namespace {
std::string errno_text() {
  return std::strerror(errno);
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // some file systems do not allow it; the rename is still atomic
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw_invalid(path.string() + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!fs::exists(path, ec)) throw_not_found(path.string() + ": no such file");
    throw_io(path.string() + ": cannot open: " + errno_text());
  }
  std::string content;
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  if (size > 0) {
    content.resize(static_cast<size_t>(size));
    in.seekg(0);
    in.read(content.data(), size);
  }
  if (in.bad()) throw_io(path.string() + ": read failed");
  return content;
}

void atomic_write(const fs::path& path, std::string_view content) {
  fs::path dir = path.parent_path();
  std::error_code ec;
  if (!dir.empty()) {
    fs::create_directories(dir, ec);
    if (ec) throw_io(dir.string() + ": cannot create directory: " + ec.message());
  }
  std::random_device rd;
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_io(tmp.string() + ": cannot create: " + errno_text());
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string why = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      throw_io(tmp.string() + ": write failed: " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw_io(tmp.string() + ": fsync failed: " + why);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw_io(path.string() + ": rename failed: " + why);
  }
  fsync_dir(dir);
}

AppendFile::AppendFile(const fs::path& path) : path_(path) {
  std::error_code ec;
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path(), ec);
  file_ = std::fopen(path.c_str(), "ab");
  if (file_ == nullptr) throw_io(path.string() + ": cannot open for append: " + errno_text());
}

AppendFile::~AppendFile() {
  if (file_ != nullptr) std::fclose(file_);
}

void AppendFile::append_line(std::string_view line) {
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
      std::fputc('\n', file_) == EOF) {
    throw_io(path_.string() + ": write failed: " + errno_text());
  }
}

void AppendFile::flush() {
  if (std::fflush(file_) != 0) throw_io(path_.string() + ": write failed: " + errno_text());
}

void AppendFile::sync() {
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) {
    throw_io(path_.string() + ": fsync failed: " + errno_text());
  }
}

void truncate_file(const fs::path& path, std::uintmax_t size) {
  std::error_code ec;
  fs::resize_file(path, size, ec);
  if (ec) throw_io(path.string() + ": cannot truncate: " + ec.message());
}

namespace {
// The "<pid> <host>\n" a FolderLock holder writes right after locking, waited for a moment (the
// holder may be between the two); empty when it does not come. Just after a holder died, a new
// one may not have replaced the dead one's line yet: the message can then name the dead pid.
std::string lock_holder(const fs::path& path) {
  std::string holder;
  for (int attempt = 0; attempt < 200; ++attempt) {
    try {
      holder = read_file(path);
    } catch (const Error&) {
      holder.clear();
    }
    if (!holder.empty() && holder.back() == '\n') {
      holder.pop_back();
      return holder;
    }
    ::usleep(1000);
  }
  return {};
}
}  // namespace

FolderLock::FolderLock(const fs::path& dir) {
  const fs::path path = dir / kFileName;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_io(path.string() + ": cannot open the folder's lock file: " + errno_text());
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const bool busy = errno == EWOULDBLOCK;
    const std::string why = errno_text();
    ::close(fd_);
    fd_ = -1;
    if (!busy) throw_io(path.string() + ": cannot lock: " + why);
    const std::string holder = lock_holder(path);
    const auto space = holder.find(' ');
    const std::string who =
        holder.empty()
            ? "another process (it did not write its pid and host)"
            : "pid " + holder.substr(0, space) +
                  (space == std::string::npos ? "" : " on host " + holder.substr(space + 1));
    throw_invalid(dir.string() + ": this run folder is in use by " + who +
                  "; wait for it to finish, or choose another --output");
  }
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "unknown");
  const std::string holder = std::to_string(::getpid()) + " " + host + "\n";
  // Best effort (it only makes a second process's message clearer). Written over the old
  // content, then cut to size, so that a reader never finds the file empty.
  if (::pwrite(fd_, holder.data(), holder.size(), 0) > 0) {
    [[maybe_unused]] int rc = ::ftruncate(fd_, static_cast<off_t>(holder.size()));
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor of the description releases it
}

}  // namespace assay
