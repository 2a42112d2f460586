// Sharded `evaluate run` end to end: three fake SageMaker Processing hosts (one /opt/ml tree
// each, resourceconfig.json naming all three) evaluate the sample test set with stories260K,
// greedy, and the dummy judge; one host is killed with SIGKILL part-way and rerun; `evaluate
// merge` combines the shards, and the merged run equals a single-host run of the same job:
// the same per-sample outputs and scores and the same metrics, corpus metrics and judge
// summaries (recomputed over the union, not averaged). SIGTERM stops a shard with exit 143 and an
// `interrupted` manifest; merge refuses incomplete or inconsistent shard sets with exit 2.
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

const fs::path kRepo = ASSAY_SOURCE_DIR;
const fs::path kDataset = kRepo / "configs/sample/llmtwin_test.jsonl";
const std::string kCleanEnv =
    std::string(testing::kCleanEvaluateEnv) + "OMP_WAIT_POLICY=PASSIVE JUDGE_PROVIDER=dummy ";
// The job: greedy, the local metrics with corpus BLEU, the dummy judge.
const std::string kRunConfig =
    R"({"metrics": ["squad", "bleu", "rouge"], "generation": {"max_new_tokens": 200},
        "bootstrap": {"resamples": 200}})";

// The complete lines of a JSONL file (a line torn by a kill is left out).
std::vector<json> read_lines(const fs::path& p) {
  return testing::read_json_lines(p, true);
}

class EvaluateShardTest : public ::testing::Test {
 protected:
  // A Processing-job tree for host `host` of `hosts`: model, data and config channels.
  // `extra_config` merges into the run config (for settings outside the config hash).
  fs::path make_host(const std::string& name, const std::string& host,
                     const std::vector<std::string>& hosts, const json& extra_config = {}) {
    fs::path root = dir_ / name;
    fs::create_directories(root / "processing/input/model");
    fs::copy(kRepo / "models/stories260K", root / "processing/input/model",
             fs::copy_options::recursive);
    fs::create_directories(root / "processing/input/data");
    fs::copy_file(kDataset, root / "processing/input/data/test.jsonl");
    json cfg = json::parse(kRunConfig);
    if (!extra_config.is_null()) cfg.merge_patch(extra_config);
    dir_.write(name + "/processing/input/config/run.json", cfg.dump());
    dir_.write(name + "/config/resourceconfig.json",
               json{{"current_host", host}, {"hosts", hosts}}.dump());
    fs::create_directories(root / "processing/output/eval");
    return root;
  }
  // The shell command line of `evaluate run` for the tree at `root`, from /tmp, no flags.
  std::string run_line(const fs::path& root) {
    return "cd /tmp && " + kCleanEnv + "SM_ROOT=" + shell_quote(root.string()) + " " +
           shell_quote(ASSAY_EVALUATE_BIN) + " --log-format json run";
  }
  // Starts `evaluate run` for `root`, waits until `gens` has a complete line, sends `signal`;
  // returns the output, ending in "rc=<exit status>".
  testing::ProcessResult run_and_signal(const fs::path& root, const fs::path& gens,
                                        const std::string& signal) {
    return run_command(run_line(root) +
                       " & pid=$!; for i in $(seq 1 2400); do "
                       "grep -q . " +
                       shell_quote(gens.string()) +
                       " 2>/dev/null && break; sleep 0.025; done; kill -" + signal +
                       " $pid; wait $pid; echo \"rc=$?\"");
  }
  testing::ProcessResult merge(const std::string& args) {
    return run_command(kCleanEnv + shell_quote(ASSAY_EVALUATE_BIN) + " --log-format human merge " +
                       args);
  }
  testing::TempDir dir_;
};

TEST_F(EvaluateShardTest, ThreeHostsKilledOneRerunMergedEqualsOneHost) {
  const std::vector<std::string> hosts = {"algo-1", "algo-2", "algo-3"};
  // Host algo-2 generates one sample at a time on one thread (settings outside the config hash),
  // so that it is still generating when it is killed.
  fs::path h[3] = {
      make_host("h1", "algo-1", hosts),
      make_host("h2", "algo-2", hosts, {{"generation", {{"max_batch_size", 1}, {"threads", 1}}}}),
      make_host("h3", "algo-3", hosts)};
  fs::path single = make_host("single", "algo-1", {"algo-1"});
  fs::path shard_dir[3];
  for (int i = 0; i < 3; ++i) {
    shard_dir[i] = h[i] / "processing/output/eval" / ("shard-" + std::to_string(i) + "-of-3");
  }

  // Three hosts at once; algo-2 is killed (SIGKILL) once it has saved a generation.
  auto r = run_command("(" + run_line(h[0]) + " > " + shell_quote((dir_ / "h1.log").string()) +
                       " 2>&1; echo rc1=$? ) & (" + run_line(h[2]) + " > " +
                       shell_quote((dir_ / "h3.log").string()) + " 2>&1; echo rc3=$? ) & " + "( " +
                       run_line(h[1]) + " & pid=$!; for i in $(seq 1 2400); do grep -q . " +
                       shell_quote((shard_dir[1] / "generations.jsonl").string()) +
                       " 2>/dev/null && break; sleep 0.025; done; kill -KILL $pid; wait $pid; "
                       "echo rc2=$? ); wait");
  ASSERT_NE(r.output.find("rc1=0"), std::string::npos) << r.output << read_file(dir_ / "h1.log");
  ASSERT_NE(r.output.find("rc3=0"), std::string::npos) << r.output << read_file(dir_ / "h3.log");
  if (r.output.find("rc2=0") != std::string::npos) {
    GTEST_SKIP() << "host algo-2 finished before SIGKILL arrived (machine too fast for this test)";
  }
  ASSERT_NE(r.output.find("rc2=137"), std::string::npos) << r.output;
  auto killed = json::parse(read_file(shard_dir[1] / "manifest.json"));
  EXPECT_EQ(killed["status"], "running") << "SIGKILL leaves no chance to mark anything";
  size_t saved = read_lines(shard_dir[1] / "generations.jsonl").size();
  EXPECT_GE(saved, 1u);

  // The rerun finishes the shard from where it was killed.
  auto again = run_command(run_line(h[1]));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  auto s2 = json::parse(read_file(shard_dir[1] / "summary.json"));
  EXPECT_GE(s2["generation"]["resumed"].get<size_t>(), saved) << "kept what it had saved";

  // Each shard holds its own slice; together, every sample once.
  std::set<std::string> all_ids;
  size_t total = 0;
  for (int i = 0; i < 3; ++i) {
    auto m = json::parse(read_file(shard_dir[i] / "manifest.json"));
    EXPECT_EQ(m["status"], "completed");
    EXPECT_EQ(m["shard"], (json{{"index", i}, {"count", 3}}));
    EXPECT_EQ(m["container"]["current_host"], hosts[i]);
    auto lines = read_lines(shard_dir[i] / "generations.jsonl");
    EXPECT_GT(lines.size(), 0u);
    total += lines.size();
    for (const auto& g : lines) all_ids.insert(g["id"].get<std::string>());
  }
  EXPECT_EQ(total, 60u) << "no sample duplicated";
  EXPECT_EQ(all_ids.size(), 60u) << "no sample lost";

  // The single-host run of the same job.
  auto one = run_command(run_line(single));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  fs::path single_dir = single / "processing/output/eval";
  EXPECT_FALSE(json::parse(read_file(single_dir / "manifest.json")).contains("shard"));

  // Merge: two arguments are folders holding a shard folder, one is the shard folder itself.
  fs::path merged = dir_ / "merged";
  auto m = merge("--output " + shell_quote(merged.string()) + " " +
                 shell_quote((h[0] / "processing/output/eval").string()) + " " +
                 shell_quote(shard_dir[1].string()) + " " +
                 shell_quote((h[2] / "processing/output/eval").string()));
  ASSERT_EQ(m.exit_code, 0) << m.output;

  // Identical per-sample outputs, in dataset order.
  auto gm = read_lines(merged / "generations.jsonl");
  auto gs = read_lines(single_dir / "generations.jsonl");
  ASSERT_EQ(gm.size(), 60u);
  std::map<std::string, json> by_id;
  for (const auto& g : gs) by_id[g["id"]] = g;
  auto dataset = read_lines(kDataset);
  for (size_t i = 0; i < gm.size(); ++i) {
    EXPECT_EQ(gm[i]["id"], dataset[i]["id"]) << "dataset order at line " << i + 1;
    EXPECT_EQ(gm[i], by_id[gm[i]["id"]]) << "greedy: the same generation as the single host";
  }
  // Identical per-sample scores (metrics and judgments), in dataset order.
  EXPECT_EQ(read_lines(merged / "scores.jsonl"), read_lines(single_dir / "scores.jsonl"));
  // Identical metrics over the union: means, CIs, corpus BLEU, judge summaries.
  auto sm = json::parse(read_file(merged / "summary.json"));
  auto ss = json::parse(read_file(single_dir / "summary.json"));
  for (const char* key : {"n_samples", "metrics", "corpus", "judges", "bootstrap"}) {
    ASSERT_TRUE(ss.contains(key)) << key;
    EXPECT_EQ(sm[key], ss[key]) << key;
  }
  EXPECT_TRUE(ss["corpus"].contains("bleu"));
  for (const char* key : {"prompt_tokens", "completion_tokens", "finish_reasons"}) {
    EXPECT_EQ(sm["generation"][key], ss["generation"][key]) << key;
  }
  // The shards' corpus BLEU differs from the union's: the merge recomputed it.
  auto s1 = json::parse(read_file(shard_dir[0] / "summary.json"));
  EXPECT_NE(s1["corpus"]["bleu"]["sys_len"], sm["corpus"]["bleu"]["sys_len"]);
  auto mm = json::parse(read_file(merged / "manifest.json"));
  EXPECT_EQ(mm["status"], "completed");
  EXPECT_EQ(mm["merged_from"].size(), 3u);
  EXPECT_EQ(mm["config_hash"], json::parse(read_file(single_dir / "manifest.json"))["config_hash"]);

  // Merge refuses what is not one whole run (exit 2, naming the problem).
  auto missing =
      merge("--output " + shell_quote((dir_ / "m2").string()) + " " +
            shell_quote(shard_dir[0].string()) + " " + shell_quote(shard_dir[2].string()));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("missing shards: shard-1-of-3"), std::string::npos)
      << missing.output;
  auto twice =
      merge("--output " + shell_quote((dir_ / "m3").string()) + " " +
            shell_quote(shard_dir[0].string()) + " " + shell_quote(shard_dir[0].string()) + " " +
            shell_quote(shard_dir[1].string()) + " " + shell_quote(shard_dir[2].string()));
  EXPECT_EQ(twice.exit_code, 2) << twice.output;
  EXPECT_NE(twice.output.find("given twice"), std::string::npos) << twice.output;
  auto mixed = merge("--output " + shell_quote((dir_ / "m4").string()) + " " +
                     shell_quote(shard_dir[0].string()) + " " + shell_quote(single_dir.string()));
  EXPECT_EQ(mixed.exit_code, 2) << mixed.output;
  EXPECT_NE(mixed.output.find("different splits"), std::string::npos) << mixed.output;
}

TEST_F(EvaluateShardTest, SigtermStopsAShardWith143AndAnInterruptedManifest) {
  fs::path root = make_host("h", "algo-2", {"algo-1", "algo-2"},
                            {{"generation", {{"max_batch_size", 1}, {"threads", 1}}}});
  fs::path shard = root / "processing/output/eval/shard-1-of-2";
  auto r = run_and_signal(root, shard / "generations.jsonl", "TERM");
  if (r.output.find("rc=0") != std::string::npos) {
    GTEST_SKIP() << "the shard finished before SIGTERM arrived (machine too fast for this test)";
  }
  ASSERT_NE(r.output.find("rc=143"), std::string::npos) << r.output;
  EXPECT_EQ(json::parse(read_file(shard / "manifest.json"))["status"], "interrupted");
  EXPECT_FALSE(fs::exists(root / "output/message")) << "a stop is not a failure";

  // An interrupted shard cannot be merged.
  auto m = merge("--output " + shell_quote((dir_ / "merged").string()) + " " +
                 shell_quote(shard.string()));
  EXPECT_EQ(m.exit_code, 2) << m.output;
  EXPECT_NE(m.output.find("not completed (status interrupted)"), std::string::npos) << m.output;

  auto again = run_command(run_line(root));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  std::set<std::string> ids;
  auto lines = read_lines(shard / "generations.jsonl");
  for (const auto& g : lines) ids.insert(g["id"].get<std::string>());
  EXPECT_EQ(ids.size(), lines.size()) << "no id twice";
  EXPECT_EQ(json::parse(read_file(shard / "manifest.json"))["status"], "completed");
}

}  // namespace
}  // namespace assay

namespace assay {
namespace {

// Judge reliability over shards: two hosts with judge.repeats 3, two dummy judges and human
// labels; the merge recomputes every reliability figure over the union, equal to one host's.
TEST_F(EvaluateShardTest, MergedJudgeReliabilityEqualsOneHost) {
  fs::path labels = dir_.write("labels.jsonl",
                               "{\"id\": \"llmtwin-001\", \"accuracy\": 3, \"style\": 2}\n"
                               "{\"id\": \"llmtwin-007\", \"accuracy\": 1, \"style\": 3}\n"
                               "{\"id\": \"llmtwin-042\", \"accuracy\": 2}\n"
                               "{\"id\": \"llmtwin-058\", \"accuracy\": 3, \"style\": 1}\n");
  const json reliability = {{"generation", {{"max_new_tokens", 40}}},
                            {"judge", {{"repeats", 3}, {"calibration", labels.string()}}},
                            {"judges",
                             {{{"name", "a"}, {"provider", "dummy"}},
                              {{"name", "b"}, {"provider", "dummy"}, {"model", "dummy-b"}}}}};
  const std::vector<std::string> hosts = {"algo-1", "algo-2"};
  fs::path h[2] = {make_host("h1", "algo-1", hosts, reliability),
                   make_host("h2", "algo-2", hosts, reliability)};
  fs::path single = make_host("single", "algo-1", {"algo-1"}, reliability);
  for (const fs::path& root : {h[0], h[1], single}) {
    auto r = run_command(run_line(root));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  fs::path merged = dir_ / "merged";
  auto m = merge("--output " + shell_quote(merged.string()) + " " +
                 shell_quote((h[0] / "processing/output/eval").string()) + " " +
                 shell_quote((h[1] / "processing/output/eval").string()));
  ASSERT_EQ(m.exit_code, 0) << m.output;
  auto sm = json::parse(read_file(merged / "summary.json"));
  auto ss = json::parse(read_file(single / "processing/output/eval/summary.json"));
  for (const char* key : {"judges", "judges_by_name", "judge_reliability"}) {
    ASSERT_TRUE(ss.contains(key)) << key;
    EXPECT_EQ(sm[key], ss[key]) << key;
  }
  EXPECT_TRUE(ss["judges"]["accuracy"]["calibrated_mean"].is_number());
  EXPECT_TRUE(ss["judges"]["accuracy"]["kappa"].is_number());
  EXPECT_TRUE(ss["judges"]["accuracy"]["agreement"].is_number());
  EXPECT_EQ(read_lines(merged / "scores.jsonl"),
            read_lines(single / "processing/output/eval/scores.jsonl"));
}

}  // namespace
}  // namespace assay
