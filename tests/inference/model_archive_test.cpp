// model.tar.gz: a SageMaker-style archive loads (model folder nested one level), and archives
// with escaping entries are rejected before anything lands outside the temp folder.
#include "inference/model_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/fs.h"
#include "inference/engine.h"
#include "tests/inference/test_util.h"

namespace assay::inference {
namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string name;
  std::string content;     // regular files
  mode_t type = AE_IFREG;  // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR
  std::string link;        // symlink target, or hardlink target when `hardlink`
  bool hardlink = false;
};

// Writes a gzip-compressed tar with exactly these entries (libarchive's writer, so names are
// stored verbatim, `..` and absolute paths included).
void write_tar_gz(const fs::path& path, const std::vector<Entry>& entries) {
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const Entry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, 0644);
    if (e.hardlink) {
      archive_entry_set_hardlink(entry, e.link.c_str());
    } else if (e.type == AE_IFLNK) {
      archive_entry_set_symlink(entry, e.link.c_str());
    }
    archive_entry_set_size(entry, e.type == AE_IFREG && !e.hardlink ? e.content.size() : 0);
    archive_write_header(a, entry);
    if (e.type == AE_IFREG && !e.hardlink)
      archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

void expect_rejected(const std::vector<Entry>& entries, const std::string& needle) {
  SCOPED_TRACE(needle);
  const fs::path dir = testing::fresh_dir("tar-bad");
  const fs::path tar = dir / "model.tar.gz";
  write_tar_gz(tar, entries);
  const fs::path dest = dir / "out";
  fs::create_directories(dest);
  try {
    unpack_archive(tar, dest);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("model.tar.gz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "evil")) << "something escaped the folder";
  fs::remove_all(dir);
}

TEST(ModelArchiveTest, LoadsANestedModelFromATarGz) {
  const fs::path dir = testing::fresh_dir("tar-ok");
  const fs::path stories = fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K";
  std::vector<Entry> entries = {{"model/", "", AE_IFDIR}};
  for (const char* name :
       {"config.json", "generation_config.json", "model.safetensors", "tokenizer.model"}) {
    entries.push_back({std::string("model/") + name, read_file(stories / name)});
  }
  entries.push_back(
      {"model/weights-link.safetensors", "", AE_IFLNK, "model.safetensors"});  // stays inside
  write_tar_gz(dir / "model.tar.gz", entries);
  auto engine = Engine::load(dir / "model.tar.gz", {});
  const fs::path unpacked = engine->files().weights_dir;
  EXPECT_EQ(unpacked.filename(), "model");
  EXPECT_TRUE(fs::exists(unpacked / "tokenizer.model"));
  GenerateOptions options;
  options.max_new_tokens = 5;
  EXPECT_EQ(engine->generate({}, options), (std::vector<int32_t>{403, 407, 261, 378, 432}));
  engine.reset();
  EXPECT_FALSE(fs::exists(unpacked)) << "the temp folder is removed with the engine";
  fs::remove_all(dir);
}

TEST(ModelArchiveTest, RejectsEntriesThatLeaveTheFolder) {
  expect_rejected({{"../evil", "x"}}, "'..'");
  expect_rejected({{"model/../../evil", "x"}}, "'..'");
  expect_rejected({{"/tmp/evil-absolute", "x"}}, "absolute path");
  expect_rejected({{"evil", "", AE_IFLNK, "/etc/passwd"}}, "symlink");
  expect_rejected({{"model/link", "", AE_IFLNK, "../../etc"}}, "symlink");
  expect_rejected({{"a", "x"}, {"evil", "", AE_IFREG, "../outside", true}}, "hardlink");
  expect_rejected({{"dev", "", AE_IFCHR}}, "device file");
}

TEST(ModelArchiveTest, RejectsCorruptAndMissingArchives) {
  const fs::path dir = testing::fresh_dir("tar-corrupt");
  write_tar_gz(dir / "m.tar.gz", {{"config.json", std::string(5000, 'x')}});
  std::string bytes = read_file(dir / "m.tar.gz");
  atomic_write(dir / "cut.tar.gz", bytes.substr(0, bytes.size() / 2));
  fs::create_directories(dir / "out");
  EXPECT_THROW(unpack_archive(dir / "cut.tar.gz", dir / "out"), Error);
  atomic_write(dir / "junk.tar.gz", "this is not a tar file at all, not even close....");
  EXPECT_THROW(unpack_archive(dir / "junk.tar.gz", dir / "out"), Error);
  try {
    unpack_archive(dir / "missing.tar.gz", dir / "out");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
  // An archive without a model inside.
  write_tar_gz(dir / "empty-model.tar.gz", {{"notes.txt", "hello"}});
  try {
    Engine::load(dir / "empty-model.tar.gz", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no config.json"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace assay::inference
