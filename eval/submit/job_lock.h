#pragma once
// An exclusive advisory lock on <dir>/<name>.lock, held for the describe→create window of a
// submission so two evalctl processes on one machine never both create the same job. Shared by
// every backend (sagemaker, batch, local); released on destruction.
#include <filesystem>
#include <string>

namespace assay::submit {

class JobLock {
 public:
  // An empty dir means "no locking" (tests that drive one process only).
  JobLock(const std::filesystem::path& dir, const std::string& name);
  ~JobLock();
  JobLock(const JobLock&) = delete;
  JobLock& operator=(const JobLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace assay::submit
