// model.tar.gz as a SageMaker training job writes it: safe unpacking into a temporary folder
// (libarchive) that is removed when its owner goes away.
#pragma once

#include <filesystem>

namespace assay::inference {

// A folder under the system temp dir, removed (recursively) by the destructor. Move-only.
class TempDir {
 public:
  // Creates a fresh folder named `prefix`XXXXXX. Throws assay::Error (i/o).
  explicit TempDir(const std::string& prefix = "assay-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// True when `path` names an archive Assay unpacks (.tar.gz, .tgz, .tar).
bool is_model_archive(const std::filesystem::path& path);

// Unpacks `archive` (tar, optionally gzip) into the existing folder `dest`. Only regular files,
// folders and links that stay inside `dest` are accepted. Throws assay::Error (invalid input)
// naming the archive and the entry for: an absolute path, a `..` component, a symlink or hardlink
// whose target leaves the folder, a device file / FIFO / socket, a corrupt or truncated archive;
// not found when `archive` is missing; i/o when writing fails.
void unpack_archive(const std::filesystem::path& archive, const std::filesystem::path& dest);

}  // namespace assay::inference
