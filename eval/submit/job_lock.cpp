#include "eval/submit/job_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/error.h"

namespace assay::submit {

JobLock::JobLock(const std::filesystem::path& dir, const std::string& name) {
  if (dir.empty()) return;
  std::filesystem::create_directories(dir);
  const std::string path = (dir / (name + ".lock")).string();
  fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_io(path + ": cannot open lock file");
  if (::flock(fd_, LOCK_EX) != 0) {
    ::close(fd_);
    throw_io(path + ": cannot lock");
  }
}

JobLock::~JobLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace assay::submit
