#include "eval/run_folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/sha256.h"
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

TEST_F(RunFolderTest, ASecondOpenOfAFolderInUseIsRefusedBeforeItIsInspected) {
  RunFolder first(dir_, identity("h1"), json::object(), false);
  first.mark_running();
  // A different config would be "refusing to reuse"; the lock comes first, so it is "in use".
  std::string msg;
  try {
    RunFolder second(dir_, identity("h2"), json::object(), true);
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("in use by pid " + std::to_string(::getpid())), std::string::npos) << msg;
  EXPECT_EQ(manifest()["config_hash"], "h1") << "the second open must not touch the folder";
}

TEST_F(RunFolderTest, TheLockFileIsNeitherForeignNorRemovedByOverwrite) {
  { RunFolder f(dir_, identity(), json::object(), false); }  // leaves .assay.lock, no manifest
  ASSERT_TRUE(fs::exists(dir_ / FolderLock::kFileName));
  RunFolder f(dir_, identity(), json::object(), false);
  EXPECT_EQ(f.state(), FolderState::kFresh);
}

TEST_F(RunFolderTest, AnOutputPathThatCannotBeCreatedIsInvalidInputNamingIt) {
  atomic_write(tmp_.path() / "file", "x");
  for (fs::path bad : {tmp_.path() / "file" / "run", fs::path("/proc/assay-x/y")}) {
    try {
      RunFolder f(bad, identity(), json::object(), false);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
      EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
    }
  }
}

TEST_F(RunFolderTest, DifferentInputsAreRefusedNamingWhichChanged) {
  const std::string old_fp(64, 'a'), new_fp(64, 'b');
  {
    RunFolder f(dir_, {"run", "h1", {{"dataset_sha256", "d1"}, {"model_fingerprint", old_fp}}},
                json::object(), false);
    f.mark_running();
  }
  try {
    RunFolder f(dir_, {"run", "h1", {{"dataset_sha256", "d1"}, {"model_fingerprint", new_fp}}},
                json::object(), false);
    FAIL() << "a different model was accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("model fingerprint aaaaaaaaaaaa -> bbbbbbbbbbbb"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("dataset"), std::string::npos) << "the dataset did not change: " << msg;
  }
}

TEST_F(RunFolderTest, ACompletedRunWithAChangedOutputResumes) {
  {
    RunFolder f(dir_, identity(), json::object(), false);
    f.mark_running();
    atomic_write(dir_ / "scores.jsonl", "{\"id\":\"a\"}\n");
    atomic_write(dir_ / "summary.json", "{}\n");
    f.mark_completed();
  }
  const json outputs = manifest()["outputs"];
  EXPECT_EQ(outputs["scores.jsonl"]["size"], 11);
  EXPECT_EQ(outputs["scores.jsonl"]["sha256"], sha256_hex("{\"id\":\"a\"}\n"));
  EXPECT_FALSE(outputs.contains("generations.jsonl")) << "only the files that exist";
  EXPECT_EQ(RunFolder(dir_, identity(), json::object(), false).state(), FolderState::kCompleted);
  atomic_write(dir_ / "scores.jsonl", "{\"id\":\"b\"}\n");  // same size, other bytes
  EXPECT_EQ(RunFolder(dir_, identity(), json::object(), false).state(), FolderState::kResume);
  atomic_write(dir_ / "scores.jsonl", "{\"id\":\"a\"}\n");
  fs::remove(dir_ / "summary.json");
  EXPECT_EQ(RunFolder(dir_, identity(), json::object(), false).state(), FolderState::kResume);
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
