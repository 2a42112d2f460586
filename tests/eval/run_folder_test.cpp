#include "eval/run_folder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class RunFolderTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = tmp_.path() / "run"; }
  RunIdentity identity(const std::string& hash = "h1") {
    return {"score", hash, {{"dataset_sha256", "d1"}}};
  }
  json manifest() { return json::parse(read_file(dir_ / "manifest.json")); }
  testing::TempDir tmp_;
  fs::path dir_;
};

TEST_F(RunFolderTest, FreshRunGoesRunningThenCompleted) {
  RunFolder f(dir_, identity(), {{"metrics", {"squad_f1"}}}, false);
  EXPECT_EQ(f.state(), FolderState::kFresh);
  f.mark_running();
  EXPECT_EQ(manifest()["status"], "running");
  EXPECT_EQ(manifest()["config_hash"], "h1");
  f.mark_completed();
  auto m = manifest();
  EXPECT_EQ(m["status"], "completed");
  EXPECT_TRUE(m["timings"].contains("started_at"));
  EXPECT_TRUE(m["timings"].contains("finished_at"));
  EXPECT_TRUE(m["versions"].contains("assay"));
}

TEST_F(RunFolderTest, SameRunCompletedIsDoneAndUnfinishedResumes) {
  {
    RunFolder f(dir_, identity(), json::object(), false);
    f.mark_running();  // and then "crash"
  }
  {
    RunFolder f(dir_, identity(), json::object(), false);
    EXPECT_EQ(f.state(), FolderState::kResume);
    f.mark_running();
    f.mark_completed();
  }
  RunFolder f(dir_, identity(), json::object(), false);
  EXPECT_EQ(f.state(), FolderState::kCompleted);
}

TEST_F(RunFolderTest, DifferentConfigIsRefusedNamingTheChangedKeysUnlessOverwrite) {
  {
    RunFolder f(dir_, identity("h1"), {{"metrics", {"squad_f1"}}}, false);
    f.mark_running();
    f.mark_completed();
    atomic_write(dir_ / "scores.jsonl", "{}\n");
  }
  try {
    RunFolder f(dir_, identity("h2"), {{"metrics", {"exact_match"}}}, false);
    FAIL() << "a different config was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    std::string msg = e.what();
    EXPECT_NE(msg.find("changed: metrics"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--overwrite"), std::string::npos) << msg;
  }
  RunFolder f(dir_, identity("h2"), {{"metrics", {"exact_match"}}}, true);
  EXPECT_EQ(f.state(), FolderState::kFresh);
  EXPECT_FALSE(fs::exists(dir_ / "scores.jsonl")) << "overwrite must drop the old run's files";
}

TEST_F(RunFolderTest, RefusesAFolderWithForeignFiles) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "notes.txt") << "mine";
  EXPECT_THROW(RunFolder(dir_, identity(), json::object(), false), Error);
  RunFolder f(dir_, identity(), json::object(), true);
  EXPECT_TRUE(fs::exists(dir_ / "notes.txt")) << "overwrite only removes Assay's own files";
}

TEST_F(RunFolderTest, FailureIsRecordedWithRedactedReason) {
  RunFolder f(dir_, identity(), json::object(), false);
  f.mark_running();
  f.mark_failed("disk full");
  EXPECT_EQ(manifest()["status"], "failed");
  EXPECT_EQ(manifest()["error"], "disk full");
}

}  // namespace
}  // namespace assay::eval
