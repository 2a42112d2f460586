#include "inference/model_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/error.h"

namespace assay::inference {
namespace fs = std::filesystem;

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr)
    throw_io(tmpl + ": cannot create a temporary folder: " + std::strerror(errno));
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

bool is_model_archive(const fs::path& path) {
  const std::string name = path.filename().string();
  auto ends = [&](const char* s) {
    const size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  return ends(".tar.gz") || ends(".tgz") || ends(".tar");
}

namespace {

// A relative path with no `..` that escapes: normalises `rel` lexically and returns false when it
// is absolute, empty or climbs out of its root.
bool stays_inside(const fs::path& rel) {
  if (rel.empty() || rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
    return false;
  int depth = 0;
  for (const fs::path& part : rel) {
    const std::string s = part.string();
    if (s == "..") {
      if (--depth < 0) return false;
    } else if (!s.empty() && s != ".") {
      ++depth;
    }
  }
  return true;
}

bool has_dotdot(const fs::path& rel) {
  for (const fs::path& part : rel) {
    if (part == "..") return true;
  }
  return false;
}

struct ReadCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteCloser {
  void operator()(archive* a) const { archive_write_free(a); }
};

}  // namespace

void unpack_archive(const fs::path& archive_path, const fs::path& dest) {
  const std::string label = archive_path.string();
  std::error_code ec;
  if (!fs::exists(archive_path, ec)) throw_not_found(label + ": no such file");
  std::unique_ptr<archive, ReadCloser> in(archive_read_new());
  archive_read_support_filter_gzip(in.get());
  archive_read_support_filter_none(in.get());
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  if (archive_read_open_filename(in.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    throw_invalid(label + ": cannot read as a tar archive: " + archive_error_string(in.get()));
  }
  std::unique_ptr<archive, WriteCloser> out(archive_write_disk_new());
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_TIME);  // our own dest is absolute
  int entries = 0;
  for (;;) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(in.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      throw_invalid(label + ": corrupt or truncated archive: " + archive_error_string(in.get()));
    }
    const char* raw_name = archive_entry_pathname(entry);
    const std::string name = raw_name != nullptr ? raw_name : "";
    const std::string where = label + ": entry '" + name + "'";
    const fs::path rel(name);
    if (rel.is_absolute()) throw_invalid(where + " has an absolute path");
    if (has_dotdot(rel)) throw_invalid(where + " contains '..'");
    if (!stays_inside(rel)) throw_invalid(where + " is not a path inside the archive folder");
    const mode_t type = archive_entry_filetype(entry);
    if (const char* hard = archive_entry_hardlink(entry); hard != nullptr) {
      const fs::path target(hard);
      if (target.is_absolute() || has_dotdot(target) || !stays_inside(target)) {
        throw_invalid(where + " is a hardlink to '" + hard + "' outside the archive folder");
      }
      archive_entry_set_hardlink(entry, (dest / target).c_str());
    } else if (type == AE_IFLNK) {
      const char* sym = archive_entry_symlink(entry);
      const fs::path target(sym != nullptr ? sym : "");
      if (target.is_absolute() || !stays_inside(rel.parent_path() / target)) {
        throw_invalid(where + " is a symlink to '" + target.string() +
                      "' which leaves the archive folder");
      }
    } else if (type != AE_IFREG && type != AE_IFDIR) {
      throw_invalid(where +
                    " is a device file, FIFO or socket; only files, folders and links are allowed");
    }
    archive_entry_set_pathname(entry, (dest / rel).c_str());
    archive_entry_set_perm(entry, type == AE_IFDIR ? 0755 : 0644);
    if (archive_write_header(out.get(), entry) < ARCHIVE_WARN) {
      throw_invalid(where + ": cannot extract: " + archive_error_string(out.get()));
    }
    if (type == AE_IFREG && archive_entry_size(entry) > 0) {
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      for (;;) {
        rc = archive_read_data_block(in.get(), &buf, &size, &offset);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN)
          throw_invalid(where + ": corrupt or truncated data: " + archive_error_string(in.get()));
        if (archive_write_data_block(out.get(), buf, size, offset) < ARCHIVE_WARN) {
          throw_io(where + ": cannot write: " + archive_error_string(out.get()));
        }
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) {
      throw_io(where + ": cannot finish: " + archive_error_string(out.get()));
    }
    ++entries;
  }
  if (archive_write_close(out.get()) < ARCHIVE_WARN)
    throw_io(label + ": " + archive_error_string(out.get()));
  if (entries == 0) throw_invalid(label + ": the archive is empty");
}

}  // namespace assay::inference
