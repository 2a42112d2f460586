// `evaluate merge` on hand-made shard folders (no model needed): the merged run is in dataset
// order with metrics and judge summaries recomputed over the union (expected values worked out by
// hand), and every way shards can fail to form one run is refused with exit 2 naming it.
#include "eval/commands/merge.h"

#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/sha256.h"
#include "eval/shard.h"
#include "judges/judge_cache.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Six samples; the prediction of s1, s4 equals the reference (exact_match 1), others do not.
const char* kIds[] = {"s0", "s1", "s2", "s3", "s4", "s5"};
// Judge accuracy per sample (1..3); s5 has a judge error instead.
const int kAccuracy[] = {1, 3, 2, 3, 3, 0};

class MergeCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string data;
    for (const char* id : kIds) {
      data += json{{"id", id},
                   {"instruction", std::string("q ") + id},
                   {"output", std::string("answer ") + id}}
                  .dump() +
              "\n";
    }
    dataset_ = dir_.write("test.jsonl", data);
    for (int i = 0; i < 2; ++i) write_shard(i, 2);
  }
  fs::path shard_dir(int i, int n) const { return dir_ / "out" / shard_dir_name({i, n}); }
  // A completed shard folder as `evaluate run` leaves it.
  void write_shard(int i, int n, const json& patch = json::object()) {
    std::string gens, scores;
    for (int k = 0; k < 6; ++k) {
      if (!in_shard(kIds[k], {i, n})) continue;
      std::string out = (k == 1 || k == 4) ? std::string("answer ") + kIds[k] : "something else";
      gens += json{{"id", kIds[k]},          {"prompt", "p"},      {"output", out},
                   {"finish_reason", "eos"}, {"prompt_tokens", 3}, {"completion_tokens", k}}
                  .dump() +
              "\n";
      json line = {{"id", kIds[k]}, {"metrics", {{"exact_match", 0.5}}}};  // recomputed anyway
      if (kAccuracy[k] > 0) {
        line["judges"] = {{"accuracy", {{"score", kAccuracy[k]}, {"analysis", "ok"}}}};
      } else {
        line["judge_error"] = {{"reason", "http 503"}, {"kind", "http"}, {"attempts", 7}};
      }
      scores += line.dump() + "\n";
    }
    json manifest = {{"command", "run"},
                     {"status", "completed"},
                     {"config", {{"metrics", {"exact_match"}}, {"bootstrap", {{"resamples", 0}}}}},
                     {"config_hash", "hash-1"},
                     {"inputs",
                      {{"dataset_sha256", sha256_file(dataset_)},
                       {"model_fingerprint", "model-1"},
                       {"shard", shard_dir_name({i, n})}}},
                     {"dataset", {{"path", dataset_.string()}}},
                     {"shard", {{"index", i}, {"count", n}}}};
    manifest.merge_patch(patch);
    json summary = {{"judges", {{"accuracy", {{"min", 1}, {"max", 3}}}}},
                    {"judge_usage", {{"provider", "dummy"}, {"calls", 10 + i}, {"cost_usd", 0.5}}},
                    {"generation", {{"resumed", i}}}};
    fs::path d = shard_dir(i, n);
    fs::create_directories(d);
    atomic_write(d / "generations.jsonl", gens);
    atomic_write(d / "scores.jsonl", scores);
    atomic_write(d / "manifest.json", manifest.dump());
    atomic_write(d / "summary.json", summary.dump());
  }
  std::string merge_error(std::vector<fs::path> inputs) {
    MergeCommandOptions o;
    o.output = dir_ / ("merged" + std::to_string(++n_merges_));
    o.inputs = std::move(inputs);
    std::ostringstream out;
    try {
      run_merge_command(o, out);
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), kExitBadInput) << e.what();
      return e.what();
    }
    return "";
  }
  testing::TempDir dir_;
  fs::path dataset_;
  int n_merges_ = 0;
};

TEST_F(MergeCommandTest, MergesInDatasetOrderAndRecomputesOverTheUnion) {
  ASSERT_EQ(merge_error({dir_ / "out"}), "") << "a folder holding the shard folders";
  fs::path m = dir_ / "merged1";
  std::vector<std::string> ids;
  for (auto& r : read_jsonl(m / "generations.jsonl", TornTail::kError).records) {
    ids.push_back(r.value["id"]);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"s0", "s1", "s2", "s3", "s4", "s5"}));
  auto scores = read_jsonl(m / "scores.jsonl", TornTail::kError).records;
  ASSERT_EQ(scores.size(), 6u);
  EXPECT_EQ(scores[1].value["metrics"]["exact_match"], 1.0) << "recomputed, not copied (0.5)";
  EXPECT_EQ(scores[0].value["metrics"]["exact_match"], 0.0);
  EXPECT_EQ(scores[5].value["judge_error"]["kind"], "http");

  auto summary = json::parse(read_file(m / "summary.json"));
  EXPECT_EQ(summary["n_samples"], 6);
  EXPECT_DOUBLE_EQ(summary["metrics"]["exact_match"]["mean"].get<double>(), 2.0 / 6.0);
  const json& acc = summary["judges"]["accuracy"];
  EXPECT_DOUBLE_EQ(acc["mean"].get<double>(), (1 + 3 + 2 + 3 + 3) / 5.0);
  EXPECT_EQ(acc["n"], 5);
  EXPECT_EQ(acc["n_errors"], 1);
  EXPECT_EQ(acc["distribution"], (json{{"1", 1}, {"2", 1}, {"3", 3}}));
  EXPECT_EQ(acc["errors_by_reason"], (json{{"http", 1}}));
  EXPECT_EQ(summary["judge_usage"]["calls"], 21) << "10 + 11";
  EXPECT_DOUBLE_EQ(summary["judge_usage"]["cost_usd"].get<double>(), 1.0);
  EXPECT_EQ(summary["generation"]["completion_tokens"], 0 + 1 + 2 + 3 + 4 + 5);
  EXPECT_EQ(summary["generation"]["finish_reasons"], (json{{"eos", 6}}));
  auto manifest = json::parse(read_file(m / "manifest.json"));
  EXPECT_EQ(manifest["status"], "completed");
  EXPECT_EQ(manifest["command"], "merge");
  EXPECT_EQ(manifest["config_hash"], "hash-1");
  EXPECT_EQ(manifest["merged_from"].size(), 2u);
}

// A judge cache line as the judge stage writes it (judges/judge_cache.h).
std::string cache_line(const std::string& key, const std::string& reply) {
  return json{{"key", key}, {"reply", reply}}.dump() + "\n";
}

TEST_F(MergeCommandTest, CombinesTheShardsJudgeCachesSoReScoringPaysNoJudgeTwice) {
  // Shard 0 paid for k0 and k1; shard 1 for k2 and, again, k1 (the same prompt on both hosts),
  // and was killed while writing a fourth line (torn tail, no newline).
  atomic_write(shard_dir(0, 2) / "judge_cache.jsonl",
               cache_line("k0", "a") + cache_line("k1", "b"));
  atomic_write(shard_dir(1, 2) / "judge_cache.jsonl",
               cache_line("k2", "c") + cache_line("k1", "b") + "{\"key\": \"k3\", \"rep");
  ASSERT_EQ(merge_error({dir_ / "out"}), "");
  fs::path merged = dir_ / "merged1" / "judge_cache.jsonl";
  std::vector<std::string> keys;
  for (auto& r : read_jsonl(merged, TornTail::kError).records) keys.push_back(r.value["key"]);
  EXPECT_EQ(keys, (std::vector<std::string>{"k0", "k1", "k2"})) << "each paid reply once";

  // Re-scoring the merged run opens this cache: every reply a shard paid for is found.
  judges::JudgeCache cache(merged, std::nullopt);
  EXPECT_EQ(cache.size(), 3u);
  for (const char* k : {"k0", "k1", "k2"}) {
    ASSERT_NE(cache.find(k), nullptr) << k;
  }
  EXPECT_EQ(cache.find("k2")->value("reply", ""), "c");
  EXPECT_EQ(cache.find("k3"), nullptr) << "the torn line was never paid for in full";
}

TEST_F(MergeCommandTest, RefusesAJudgeCacheLineWithoutKey) {
  atomic_write(shard_dir(1, 2) / "judge_cache.jsonl", cache_line("k0", "a") + "{\"reply\": 1}\n");
  std::string error = merge_error({dir_ / "out"});
  EXPECT_NE(error.find("judge_cache.jsonl:2"), std::string::npos) << error;
  EXPECT_NE(error.find("no \"key\""), std::string::npos) << error;
}

TEST_F(MergeCommandTest, RefusesShardsThatAreNotOneRun) {
  EXPECT_NE(merge_error({shard_dir(0, 2)}).find("missing shards: shard-1-of-2"), std::string::npos);
  write_shard(1, 2, {{"config_hash", "hash-2"}});
  EXPECT_NE(merge_error({dir_ / "out"}).find("different config"), std::string::npos);
  write_shard(1, 2, {{"inputs", {{"model_fingerprint", "model-2"}}}});
  EXPECT_NE(merge_error({dir_ / "out"}).find("different model"), std::string::npos);
  write_shard(1, 2, {{"status", "running"}});
  EXPECT_NE(merge_error({dir_ / "out"}).find("not completed (status running)"), std::string::npos);
  write_shard(1, 2);

  // A sample in the wrong shard, twice in one shard, or in none.
  fs::path g1 = shard_dir(1, 2) / "generations.jsonl";
  std::string good = read_file(g1);
  std::string first_line = read_file(shard_dir(0, 2) / "generations.jsonl");
  first_line = first_line.substr(0, first_line.find('\n') + 1);
  atomic_write(g1, good + first_line);
  EXPECT_NE(merge_error({dir_ / "out"}).find("does not belong to shard-1-of-2"), std::string::npos);
  std::string own_first = good.substr(0, good.find('\n') + 1);
  atomic_write(g1, good + own_first);
  EXPECT_NE(merge_error({dir_ / "out"}).find("appears twice"), std::string::npos);
  atomic_write(g1, good.substr(own_first.size()));
  EXPECT_NE(merge_error({dir_ / "out"}).find("have no result"), std::string::npos);
  atomic_write(g1, good);

  // The dataset changed since the shards ran.
  atomic_write(dataset_, read_file(dataset_) + "{\"id\": \"s6\", \"instruction\": \"q\"}\n");
  EXPECT_NE(merge_error({dir_ / "out"}).find("not the dataset the shards ran on"),
            std::string::npos);
  EXPECT_NE(merge_error({dir_ / "nothing"}).find("no such folder"), std::string::npos);
}

}  // namespace
}  // namespace assay::eval
