#include "core/fs.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = tmp_.path() / "d"; }
  testing::TempDir tmp_;
  fs::path dir_;
};

TEST_F(FsTest, AtomicWriteCreatesParentsAndReplacesWithoutLeftovers) {
  fs::path file = dir_ / "a" / "b" / "out.json";
  atomic_write(file, "first");
  EXPECT_EQ(read_file(file), "first");
  atomic_write(file, "second, longer content");
  EXPECT_EQ(read_file(file), "second, longer content");
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(file.parent_path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1u) << "a temporary file was left behind";
}

TEST_F(FsTest, ReadFileNamesThePathOnFailure) {
  try {
    read_file(dir_ / "missing.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos);
  }
  fs::create_directories(dir_);
  try {
    read_file(dir_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
  }
}

TEST_F(FsTest, AppendFileAppendsLinesAndTruncateDropsATail) {
  fs::path file = dir_ / "log.jsonl";
  {
    AppendFile f(file);
    f.append_line("{\"a\":1}");
    f.sync();
  }
  {
    AppendFile f(file);
    f.append_line("{\"a\":2}");
    f.sync();
  }
  EXPECT_EQ(read_file(file), "{\"a\":1}\n{\"a\":2}\n");
  truncate_file(file, 8);
  EXPECT_EQ(read_file(file), "{\"a\":1}\n");
}

TEST_F(FsTest, FolderLockExcludesASecondHolderUntilReleased) {
  fs::create_directories(dir_);
  {
    FolderLock held(dir_);
    const std::string holder = read_file(dir_ / FolderLock::kFileName);
    EXPECT_EQ(holder.substr(0, holder.find(' ')), std::to_string(::getpid())) << holder;
    // A second lock opens the file again: another open file description, so flock refuses it.
    try {
      FolderLock second(dir_);
      FAIL() << "a second lock on a held folder succeeded";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      const std::string msg = e.what();
      EXPECT_NE(msg.find(dir_.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find("pid " + std::to_string(::getpid())), std::string::npos) << msg;
    }
  }
  FolderLock again(dir_);  // released when the first one was destroyed
  EXPECT_TRUE(fs::exists(dir_ / FolderLock::kFileName));
}

}  // namespace
}  // namespace assay
