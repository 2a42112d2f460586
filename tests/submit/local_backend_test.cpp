// `evalctl submit --backend local` end to end: the real `evaluate` binary runs as 2 emulated
// SageMaker Processing hosts (stories260K, dummy judge), their shards are merged and delivered
// to a local output folder; resubmitting runs nothing; a failing job reports the container's
// reason and is retried only when asked; the merged run equals a single-host run.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/jsonl.h"
#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_command;
using testing::shell_quote;

const fs::path kSource(ASSAY_SOURCE_DIR);

std::vector<json> read_lines(const fs::path& p) {
  return testing::read_json_lines(p);
}

// The last JSON line evalctl printed on stdout (its result line).
json result_line(const std::string& output) {
  json last;
  size_t pos = 0;
  while (pos < output.size()) {
    size_t end = output.find('\n', pos);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(pos, end - pos);
    if (line.empty() || line[0] != '{') continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("backend") && !j.contains("level")) last = j;
    pos = end + 1;
  }
  return last;
}

class LocalBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = {{"name_prefix", "local-e2e"},
             {"instance_type", "ml.m5.xlarge"},
             {"instance_count", 2},
             {"inputs",
              {{"model", (kSource / "models/stories260K").string()},
               {"data", (kSource / "configs/sample/llmtwin_test.jsonl").string()}}},
             {"output", "results"},  // relative: to the spec file's folder, not the cwd
             {"environment", {{"IS_DUMMY", "true"}, {"JUDGE_PROVIDER", "dummy"}}}};
  }
  std::string write_spec(const json& spec, const std::string& file = "job.json") {
    atomic_write(dir_ / file, spec.dump(2));
    return shell_quote((dir_ / file).string());
  }
  testing::ProcessResult evalctl(const std::string& args) {
    return run_command(
        "cd /tmp && env -i PATH=/usr/bin:/bin HOME=" + shell_quote(dir_.path().string()) +
        " XDG_CACHE_HOME=" + shell_quote((dir_ / "cache").string()) + " " +
        shell_quote(ASSAY_EVALCTL_BIN) + " --log-level warn " + args + " --evaluate " +
        shell_quote(ASSAY_EVALUATE_BIN));
  }
  testing::ProcessResult evalctl_query(const std::string& args) {
    return run_command("env -i PATH=/usr/bin:/bin HOME=" + shell_quote(dir_.path().string()) +
                       " XDG_CACHE_HOME=" + shell_quote((dir_ / "cache").string()) + " " +
                       shell_quote(ASSAY_EVALCTL_BIN) + " " + args);
  }
  fs::path jobs_dir() const { return dir_ / "cache/assay/evalctl/local"; }

  testing::TempDir dir_;
  json spec_;
};

std::map<std::string, json> by_id(const std::vector<json>& lines) {
  std::map<std::string, json> out;
  for (const auto& l : lines) out[l.at("id").get<std::string>()] = l;
  return out;
}

TEST_F(LocalBackendTest, TwoHostsMergeDeliverAndResubmitRunsNothing) {
  auto first = evalctl("submit --backend local " + write_spec(spec_));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  json line = result_line(first.output);
  ASSERT_EQ(line.value("status", ""), "Completed") << first.output;
  EXPECT_EQ(line.value("action", ""), "created");
  std::string name = line.at("job");
  EXPECT_EQ(name.rfind("local-e2e-", 0), 0u) << name;
  fs::path results = dir_ / "results" / name;
  EXPECT_EQ(line.value("results", ""), results.string() + "/");

  // Each emulated host wrote its own shard; together they hold the 8 dummy samples, once each.
  std::set<std::string> shard_ids;
  size_t shard_lines = 0;
  for (const auto& entry : fs::recursive_directory_iterator(results)) {
    if (entry.path().filename() != "generations.jsonl") continue;
    std::string parent = entry.path().parent_path().filename().string();
    if (parent.rfind("shard-", 0) != 0) continue;
    EXPECT_TRUE(parent == "shard-0-of-2" || parent == "shard-1-of-2") << parent;
    for (const auto& g : read_lines(entry.path())) {
      shard_ids.insert(g.at("id").get<std::string>());
      ++shard_lines;
    }
  }
  EXPECT_EQ(shard_lines, 8u);
  EXPECT_EQ(shard_ids.size(), 8u);

  // The merged run covers the union.
  auto merged = read_lines(results / "merged/generations.jsonl");
  auto merged_scores = read_lines(results / "merged/scores.jsonl");
  EXPECT_EQ(merged.size(), 8u);
  EXPECT_EQ(merged_scores.size(), 8u);
  std::set<std::string> merged_ids;
  for (const auto& g : merged) merged_ids.insert(g.at("id").get<std::string>());
  EXPECT_EQ(merged_ids, shard_ids);
  ASSERT_TRUE(fs::exists(results / "merged/summary.json"));

  // Each host saw its own resourceconfig.json.
  json rc = json::parse(read_file(jobs_dir() / name / "roots/algo-2/config/resourceconfig.json"));
  EXPECT_EQ(rc.at("current_host"), "algo-2");
  EXPECT_EQ(rc.at("hosts"), json({"algo-1", "algo-2"}));

  // Resubmitting: already completed, nothing runs again (host logs unchanged).
  auto log_size = fs::file_size(jobs_dir() / name / "logs/algo-1.log");
  auto again = evalctl("submit --backend local " + write_spec(spec_));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(result_line(again.output).value("action", ""), "already-completed") << again.output;
  EXPECT_EQ(fs::file_size(jobs_dir() / name / "logs/algo-1.log"), log_size);

  auto status = evalctl_query("status --backend local " + name);
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_EQ(result_line(status.output).value("status", ""), "Completed") << status.output;
  auto list = evalctl_query("list --backend local");
  EXPECT_NE(list.output.find(name), std::string::npos) << list.output;

  // The same job on one host gives the same per-sample outputs and metrics.
  json one = spec_;
  one["instance_count"] = 1;
  auto single = evalctl("submit --backend local " + write_spec(one, "one.json"));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  fs::path single_dir = dir_ / "results" / result_line(single.output).at("job").get<std::string>();
  auto single_gens = by_id(read_lines(single_dir / "generations.jsonl"));
  auto merged_gens = by_id(merged);
  ASSERT_EQ(single_gens.size(), merged_gens.size());
  for (const auto& [id, g] : single_gens) {
    EXPECT_EQ(merged_gens.at(id).at("output"), g.at("output")) << id;
  }
  auto single_scores = by_id(read_lines(single_dir / "scores.jsonl"));
  for (const auto& [id, s] : by_id(merged_scores)) {
    EXPECT_EQ(s.at("metrics"), single_scores.at(id).at("metrics")) << id;
  }
}

TEST_F(LocalBackendTest, FailureReasonComesFromTheContainerAndRetryIsExplicit) {
  atomic_write(dir_ / "bad.jsonl", "{\"id\": \"a\", \"instruction\": \"hi\"}\nnot json\n");
  json spec = spec_;
  spec["instance_count"] = 1;
  spec["inputs"]["data"] = (dir_ / "bad.jsonl").string();
  std::string file = write_spec(spec);
  auto first = evalctl("submit --backend local " + file);
  EXPECT_EQ(first.exit_code, 4) << first.output;
  json line = result_line(first.output);
  EXPECT_EQ(line.value("status", ""), "Failed") << first.output;
  std::string reason = line.value("failure_reason", "");
  EXPECT_NE(reason.find("bad.jsonl"), std::string::npos)
      << "the reason evaluate wrote to output/message names the file: " << reason;

  auto again = evalctl("submit --backend local " + file);
  EXPECT_EQ(again.exit_code, 4) << again.output;
  EXPECT_EQ(result_line(again.output).value("action", ""), "not-retried");
  EXPECT_NE(again.output.find("--retry-failed"), std::string::npos) << again.output;

  auto retry = evalctl("submit --backend local --retry-failed " + file);
  EXPECT_EQ(retry.exit_code, 4) << retry.output;
  std::string name = result_line(retry.output).value("job", "");
  EXPECT_TRUE(name.ends_with("-r2")) << name;
}

TEST_F(LocalBackendTest, BadSpecFailsBeforeRunningAnything) {
  json spec = spec_;
  spec["instance_count"] = 0;
  auto r = evalctl("submit --backend local " + write_spec(spec));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("instance_count"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(jobs_dir())) << "nothing was started";
}

}  // namespace
}  // namespace assay
