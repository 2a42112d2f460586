// Run folders that cannot be corrupted, end to end: one process at a time works in a folder (a
// second exits 2 naming the holder; a lock left by a killed process does not block), a completed
// run whose outputs changed is rebuilt, duplicate generations and an output path that cannot be
// created are exit 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::evaluate_line;
using testing::run_command;
using testing::run_evaluate;
using testing::shell_quote;

const fs::path kDataset = fs::path(ASSAY_SOURCE_DIR) / "configs/sample/llmtwin_test.jsonl";

std::string q(const fs::path& p) {
  return shell_quote(p.string());
}

std::multiset<std::string> ids_of(const fs::path& generations) {
  std::multiset<std::string> ids;
  for (const auto& line : testing::read_json_lines(generations))
    ids.insert(line["id"].get<std::string>());
  return ids;
}

class EvaluateRunFolderTest : public ::testing::Test {
 protected:
  // A dummy run of the first `samples` samples into `out`.
  std::string dummy_run(const fs::path& out, int samples) {
    fs::path cfg =
        dir_.write("c" + std::to_string(samples) + ".json",
                   R"({"dummy_samples": )" + std::to_string(samples) +
                       R"(, "dummy_max_new_tokens": 8, "bootstrap": {"resamples": 50}})");
    return "run --dummy --dataset " + q(kDataset) + " --config " + q(cfg) + " --output " + q(out);
  }
  testing::TempDir dir_;
};

TEST_F(EvaluateRunFolderTest, ARunOnAFolderInUseExits2NamingTheFolderAndTheHolder) {
  const fs::path out = dir_ / "run";
  fs::create_directories(out);
  {
    FolderLock held(out);  // this test process is the other `evaluate`
    auto r = run_evaluate(dummy_run(out, 20));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(out.string()), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("pid " + std::to_string(::getpid())), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out / "manifest.json")) << "the refused run must not touch the folder";
    EXPECT_FALSE(fs::exists(out / "generations.jsonl"));
  }
  auto r = run_evaluate(dummy_run(out, 20));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ids = ids_of(out / "generations.jsonl");
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 20u) << "each id once";
}

// The state letter of /proc/<pid>/stat ('T' stopped, 'Z' zombie), or nullopt once it is gone.
std::optional<char> process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");  // size 0: read_file cannot
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return std::nullopt;
  return stat[paren + 2];
}

// Polls `done` every 10 ms for up to two minutes (generous: the machine may be busy).
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 12000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST_F(EvaluateRunFolderTest, ASecondRunWhileTheFirstWorksExits2AndTheFirstFinishesCleanly) {
  // The first run is stopped (SIGSTOP) once it holds the lock and has not completed, so the
  // second meets it at work however fast the machine is; a first run that completed before it
  // was stopped is tried again in a fresh folder.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const fs::path out = dir_ / ("run" + std::to_string(attempt));
    auto bg = run_command("{ " + evaluate_line(dummy_run(out, 20)) + " > " + q(dir_ / "first.log") +
                          " 2>&1 & } ; echo $!");
    ASSERT_EQ(bg.exit_code, 0) << bg.output;
    const pid_t first = std::stoi(bg.output);
    const std::string holder = std::to_string(first) + " ";
    ASSERT_TRUE(eventually([&] {
      std::error_code ec;
      return !process_state(first) ||
             (fs::exists(out / FolderLock::kFileName, ec) &&
              read_file(out / FolderLock::kFileName).rfind(holder, 0) == 0);
    }));
    ::kill(first, SIGSTOP);
    ASSERT_TRUE(eventually([&] {
      auto state = process_state(first);
      return !state || state == 'T' || state == 'Z';
    }));
    std::error_code ec;
    const bool at_work = process_state(first) == 'T' &&
                         (!fs::exists(out / "manifest.json", ec) ||
                          json::parse(read_file(out / "manifest.json"))["status"] != "completed");
    if (at_work) {
      auto r = run_evaluate(dummy_run(out, 20));
      EXPECT_EQ(r.exit_code, 2) << r.output;
      EXPECT_NE(r.output.find(out.string() + ": this run folder is in use by pid " +
                              std::to_string(first)),
                std::string::npos)
          << r.output;
    }
    ::kill(first, SIGCONT);
    ASSERT_TRUE(eventually([&] {
      auto state = process_state(first);
      return !state || state == 'Z';
    })) << read_file(dir_ / "first.log");
    if (!at_work) continue;
    EXPECT_EQ(json::parse(read_file(out / "manifest.json"))["status"], "completed")
        << read_file(dir_ / "first.log");
    const auto ids = ids_of(out / "generations.jsonl");
    EXPECT_EQ(ids.size(), 20u);
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 20u) << "each id once";
    return;
  }
  FAIL() << "the first run completed before it could be stopped, five times";
}

TEST_F(EvaluateRunFolderTest, MergeReportAndTheParentOfSeveralModelsHoldTheLockToo) {
  for (int i = 0; i < 2; ++i) {
    auto r = run_evaluate(dummy_run(dir_ / ("h" + std::to_string(i)), 4) + " --shard " +
                          std::to_string(i) + "/2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const fs::path shard = dir_ / "h0" / "shard-0-of-2";
  fs::path cfg = dir_.write("multi.json", R"({"dummy_samples": 2, "dummy_max_new_tokens": 2,
      "models": [{"name": "ft"}, {"name": "base"}]})");
  const fs::path merged = dir_ / "merged", multi = dir_ / "multi";
  fs::create_directories(merged);
  fs::create_directories(multi);
  const std::string in_use = ": this run folder is in use by pid " + std::to_string(::getpid());
  {
    FolderLock merged_lock(merged), shard_lock(shard), multi_lock(multi);
    auto r =
        run_evaluate("merge --output " + q(merged) + " " + q(dir_ / "h0") + " " + q(dir_ / "h1"));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(merged.string() + in_use), std::string::npos) << r.output;
    r = run_evaluate("report " + q(shard));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(shard.string() + in_use), std::string::npos) << r.output;
    r = run_evaluate("run --dummy --dataset " + q(kDataset) + " --config " + q(cfg) + " --output " +
                     q(multi));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(multi.string() + in_use), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(multi / "ft")) << "no model runs while the parent is in use";
  }
  EXPECT_EQ(
      run_evaluate("merge --output " + q(merged) + " " + q(dir_ / "h0") + " " + q(dir_ / "h1"))
          .exit_code,
      0);
  EXPECT_EQ(run_evaluate("report " + q(shard)).exit_code, 0);
}

TEST_F(EvaluateRunFolderTest, AnotherModelInACompletedFolderIsRefusedNamingTheFingerprints) {
  const fs::path out = dir_ / "run";
  auto r = run_evaluate(dummy_run(out, 2));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string old_fp =
      json::parse(read_file(out / "manifest.json"))["model"]["fingerprint"].get<std::string>();
  // The same model with one more byte in config.json: another fingerprint, the same config.
  const fs::path model = dir_ / "model";
  fs::copy(fs::path(ASSAY_SOURCE_DIR) / "models/stories260K", model, fs::copy_options::recursive);
  atomic_write(model / "config.json", read_file(model / "config.json") + "\n");
  r = run_evaluate(dummy_run(out, 2) + " --model " + q(model));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("model fingerprint " + old_fp.substr(0, 12) + " -> "), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("dataset SHA-256"), std::string::npos) << r.output;
}

TEST_F(EvaluateRunFolderTest, TwentyConcurrentScoresOfOneFolderScoreItOnce) {
  const fs::path out = dir_ / "score";
  std::string script;
  for (int i = 0; i < 20; ++i) {
    const std::string n = std::to_string(i);
    script += "(" + evaluate_line("score --dataset " + q(kDataset) + " --output " + q(out)) +
              " > " + q(dir_ / ("out." + n)) + " 2>&1; echo $? > " + q(dir_ / ("rc." + n)) + ") & ";
  }
  auto all = run_command(script + "wait");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  // Whether a process overlaps the one scoring (exit 2) or starts after it finished ("Already
  // completed", exit 0) depends on scheduling; exactly one scores, and none fails otherwise.
  int scored = 0, refused = 0;
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE(i);
    const std::string n = std::to_string(i);
    const std::string output = read_file(dir_ / ("out." + n));
    const int rc = std::stoi(read_file(dir_ / ("rc." + n)));
    if (rc == 2) {
      ++refused;
      EXPECT_NE(output.find(out.string() + ": this run folder is in use by pid "),
                std::string::npos)
          << output;
    } else {
      ASSERT_EQ(rc, 0) << output;
      if (output.find("Scored 60 samples") != std::string::npos) {
        ++scored;
      } else {
        EXPECT_NE(output.find("Already completed"), std::string::npos) << output;
      }
    }
  }
  EXPECT_EQ(scored, 1) << refused << " refused";
  EXPECT_EQ(testing::read_json_lines(out / "judge_cache.jsonl").size(), 60u)
      << "one judgment per sample";
  EXPECT_EQ(json::parse(read_file(out / "manifest.json"))["status"], "completed");
}

TEST_F(EvaluateRunFolderTest, ALockLeftByAKilledProcessDoesNotBlockARerun) {
  const fs::path out = dir_ / "run";
  fs::create_directories(out);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FolderLock held(out);
    ::kill(::getpid(), SIGKILL);  // dies holding it
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  const std::string left = read_file(out / FolderLock::kFileName);
  ASSERT_EQ(left.substr(0, left.find(' ')), std::to_string(child)) << left;
  auto r = run_evaluate(dummy_run(out, 4));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(EvaluateRunFolderTest, ACompletedRunWithACutOrMissingFileIsRebuilt) {
  const fs::path out = dir_ / "run";
  auto r = run_evaluate(dummy_run(out, 10));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string generations = read_file(out / "generations.jsonl");
  const std::string scores = read_file(out / "scores.jsonl");
  const json outputs = json::parse(read_file(out / "manifest.json"))["outputs"];
  EXPECT_EQ(outputs["generations.jsonl"]["size"], generations.size());
  EXPECT_EQ(outputs["scores.jsonl"]["size"], scores.size());

  truncate_file(out / "generations.jsonl", generations.size() / 2);
  fs::remove(out / "scores.jsonl");
  const size_t kept = testing::read_json_lines(out / "generations.jsonl", true).size();
  ASSERT_GT(kept, 0u);
  ASSERT_LT(kept, 10u);
  r = run_evaluate(dummy_run(out, 10));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("missing or changed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find((out / "generations.jsonl").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(" + std::to_string(kept) + " from a previous attempt)"),
            std::string::npos)
      << "only the missing ids are generated again: " << r.output;
  auto lines = [](const std::string& text) {
    std::multiset<std::string> out;
    for (size_t pos = 0, end; pos < text.size(); pos = end + 1) {
      end = text.find('\n', pos);
      out.insert(text.substr(pos, end - pos));
      if (end == std::string::npos) break;
    }
    return out;
  };
  EXPECT_EQ(lines(read_file(out / "generations.jsonl")), lines(generations));
  EXPECT_EQ(read_file(out / "scores.jsonl"), scores);
  r = run_evaluate(dummy_run(out, 10));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Already completed"), std::string::npos) << r.output;
}

TEST_F(EvaluateRunFolderTest, ADuplicateIdInGenerationsOnResumeExits2NamingBothLines) {
  const fs::path out = dir_ / "run";
  auto r = run_evaluate(dummy_run(out, 4));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json manifest = json::parse(read_file(out / "manifest.json"));
  manifest["status"] = "interrupted";  // as if stopped: the rerun resumes
  atomic_write(out / "manifest.json", manifest.dump(2));
  const std::string generations = read_file(out / "generations.jsonl");
  atomic_write(out / "generations.jsonl",
               generations + generations.substr(0, generations.find('\n') + 1));
  r = run_evaluate(dummy_run(out, 4));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find((out / "generations.jsonl").string() + ":5"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("already on line 1"), std::string::npos) << r.output;
}

TEST_F(EvaluateRunFolderTest, AnOutputPathThatCannotBeCreatedExits2NamingIt) {
  const fs::path file = dir_.write("file", "x");
  for (const fs::path& bad : {file / "run", fs::path("/proc/assay-x/y")}) {
    SCOPED_TRACE(bad);
    auto r = run_evaluate("score --dataset " + q(kDataset) + " --output " + q(bad));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(bad.string() + ": cannot create the output folder"), std::string::npos)
        << r.output;
  }
}

}  // namespace
}  // namespace assay
