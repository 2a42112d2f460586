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
    pos = end + 1;
    if (line.empty() || line[0] != '{') continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("backend") && !j.contains("level")) last = j;
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

// SIGTERM to `evalctl submit --backend local` while the hosts generate: it forwards the signal,
// each host flushes and exits 143, the job is Stopped. A resubmission (--retry-failed) takes the
// hosts' folders over and resumes them: every sample exactly once, what was saved kept. Then
// `logs` and `results` read the finished job.
TEST_F(LocalBackendTest, SigtermStopsTheHostsWith143AndTheRerunResumesThem) {
  // The whole sample set, one sequence at a time on one thread, so the hosts are still
  // generating when the signal comes.
  atomic_write(dir_ / "run.json",
               R"({"generation": {"max_new_tokens": 200, "max_batch_size": 1, "threads": 1}})");
  json spec = spec_;
  spec["environment"] = {{"IS_DUMMY", "false"}, {"JUDGE_PROVIDER", "dummy"}};
  spec["inputs"]["config"] = (dir_ / "run.json").string();
  std::string file = write_spec(spec);
  std::string env =
      "cd /tmp && env -i PATH=/usr/bin:/bin HOME=" + shell_quote(dir_.path().string()) +
      " XDG_CACHE_HOME=" + shell_quote((dir_ / "cache").string()) + " ";
  std::string submit = shell_quote(ASSAY_EVALCTL_BIN) +
                       " --log-level warn submit --backend local " + file + " --evaluate " +
                       shell_quote(ASSAY_EVALUATE_BIN);
  auto stopped = run_command(
      env + submit + " & pid=$!; for i in $(seq 1 4800); do find " +
      shell_quote(jobs_dir().string()) +
      " -name generations.jsonl -size +0 2>/dev/null | grep -q . && break; sleep 0.025; done; "
      "kill -TERM $pid; wait $pid; echo \"rc=$?\"");
  if (stopped.output.find("rc=0") != std::string::npos) {
    GTEST_SKIP() << "the job finished before SIGTERM arrived (machine too fast for this test)";
  }
  ASSERT_NE(stopped.output.find("rc=143"), std::string::npos) << stopped.output;
  json line = result_line(stopped.output);
  EXPECT_EQ(line.value("status", ""), "Stopped") << stopped.output;
  std::string name = line.at("job");
  int stopped_hosts = 0;
  for (const auto& [host, code] : line.at("host_exit_codes").items()) {
    EXPECT_TRUE(code == 143 || code == 0) << host << " exited " << code;
    stopped_hosts += code == 143;
  }
  EXPECT_GE(stopped_hosts, 1) << line.dump();

  // What the hosts saved before they stopped: complete lines, each sample once.
  auto saved_ids = [&](const fs::path& root) {
    std::multiset<std::string> ids;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.path().filename() != "generations.jsonl") continue;
      if (entry.path().parent_path().filename().string().rfind("shard-", 0) != 0) continue;
      for (const auto& g : testing::read_json_lines(entry.path(), true))
        ids.insert(g.at("id").get<std::string>());
    }
    return ids;
  };
  auto before = saved_ids(jobs_dir() / name / "roots");
  EXPECT_GE(before.size(), 1u);
  EXPECT_EQ(std::set<std::string>(before.begin(), before.end()).size(), before.size());

  auto again = evalctl("submit --backend local --retry-failed " + file);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  json done = result_line(again.output);
  EXPECT_EQ(done.value("status", ""), "Completed") << again.output;
  std::string name2 = done.at("job");
  EXPECT_EQ(name2, name + "-r2");

  // Every sample exactly once across the shards; nothing saved before the stop was redone.
  fs::path results = dir_ / "results" / name2;
  auto after = saved_ids(results);
  const size_t n_samples = read_lines(kSource / "configs/sample/llmtwin_test.jsonl").size();
  EXPECT_EQ(after.size(), n_samples) << "no sample lost or duplicated";
  EXPECT_EQ(std::set<std::string>(after.begin(), after.end()).size(), n_samples);
  EXPECT_EQ(read_lines(results / "merged/generations.jsonl").size(), n_samples);
  size_t resumed = 0;
  for (const auto& entry : fs::recursive_directory_iterator(results)) {
    if (entry.path().filename() != "summary.json") continue;
    if (entry.path().parent_path().filename().string().rfind("shard-", 0) != 0) continue;
    resumed += json::parse(read_file(entry.path()))["generation"].value("resumed", size_t{0});
  }
  EXPECT_GE(resumed, before.size()) << "the rerun kept what the hosts had saved";
  // The merged run holds every judge reply the hosts paid for, once each (evaluate merge).
  std::set<std::string> shard_keys, merged_keys;
  for (const auto& entry : fs::recursive_directory_iterator(results)) {
    if (entry.path().filename() != "judge_cache.jsonl") continue;
    bool merged_file = entry.path().parent_path().filename() == "merged";
    auto lines = testing::read_json_lines(entry.path(), true);
    auto& keys = merged_file ? merged_keys : shard_keys;
    for (const auto& l : lines) keys.insert(l.at("key").get<std::string>());
    if (merged_file) EXPECT_EQ(lines.size(), merged_keys.size()) << "a key written twice";
  }
  EXPECT_FALSE(shard_keys.empty());
  EXPECT_EQ(merged_keys, shard_keys);

  // logs: the hosts' log lines, as CloudWatch streams <job>/algo-<k>.
  auto logs = evalctl_query("logs --backend local " + name2);
  ASSERT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_NE(logs.output.find(name2 + "/algo-1 "), std::string::npos) << logs.output;
  EXPECT_NE(logs.output.find(name2 + "/algo-2 "), std::string::npos) << logs.output;
  // results: what the job delivered, copied into DEST.
  fs::path dest = dir_ / "fetched";
  auto fetched =
      evalctl_query("results --backend local " + name2 + " " + shell_quote(dest.string()));
  ASSERT_EQ(fetched.exit_code, 0) << fetched.output;
  EXPECT_EQ(read_file(dest / "merged/generations.jsonl"),
            read_file(results / "merged/generations.jsonl"));
  auto none = evalctl_query("results --backend local no-such-job " + shell_quote(dest.string()));
  EXPECT_EQ(none.exit_code, 2) << none.output;
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
