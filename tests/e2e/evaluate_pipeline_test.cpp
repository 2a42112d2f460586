// The pipeline's shape as a user meets it: global options after the subcommand, several models
// over several hosts (each host its shard of every model; `evaluate merge` per model gives the
// single-host result), and a bad model path in a multi-model run refused before any model runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/e2e/process.h"
#include "tests/e2e/python_bootstrap.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_command;
using testing::shell_quote;

const fs::path kDataset = fs::path(ASSAY_SOURCE_DIR) / "configs/sample/llmtwin_test.jsonl";
testing::ProcessResult evaluate(const std::string& args) {
  return testing::run_evaluate(args);
}

std::string q(const fs::path& p) {
  return shell_quote(p.string());
}

TEST(EvaluatePipelineTest, LogOptionsAreAcceptedAfterTheSubcommand) {
  testing::TempDir dir;
  // JUDGE_PROVIDER=dummy: the judge's rubric reads the instruction, so the dataset has one.
  fs::path data = dir.write(
      "d.jsonl", R"({"id": "a", "instruction": "q", "output": "x y", "prediction": "x y"})"
                 "\n");
  // Level and format after the subcommand: human lines, and nothing below warn.
  auto r = evaluate("score --log-format human --dataset " + q(data) + " --output " + q(dir / "s"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("scoring"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("{\"level\""), std::string::npos) << "human, not JSON: " << r.output;
  r = evaluate("score --log-level warn --log-format json --dataset " + q(data) + " --output " +
               q(dir / "t"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("\"level\":\"info\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Scored 1 samples"), std::string::npos) << r.output;
  r = evaluate("score --log-level chatty --dataset " + q(data) + " --output " + q(dir / "u"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--log-level"), std::string::npos) << r.output;
}

TEST(EvaluatePipelineTest, SeveralModelsOverSeveralHostsMergePerModel) {
  testing::TempDir dir;
  fs::path cfg = dir.write("multi.json", R"({"dummy_samples": 6, "dummy_max_new_tokens": 6,
      "metrics": ["squad", "bleu"], "models": [{"name": "ft"}, {"name": "base"}],
      "bootstrap": {"resamples": 50}})");
  // Two hosts, each with its own output folder (as each SageMaker host has its own).
  for (int i = 0; i < 2; ++i) {
    auto r =
        evaluate("run --dummy --dataset " + q(kDataset) + " --config " + q(cfg) + " --output " +
                 q(dir / ("h" + std::to_string(i))) + " --shard " + std::to_string(i) + "/2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  std::set<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    fs::path host = dir / ("h" + std::to_string(i));
    EXPECT_FALSE(fs::exists(host / "summary.json")) << "no parent summary on a shard host";
    for (const char* model : {"ft", "base"}) {
      fs::path shard = host / model / ("shard-" + std::to_string(i) + "-of-2");
      json m = json::parse(read_file(shard / "manifest.json"));
      EXPECT_EQ(m["status"], "completed") << shard;
      EXPECT_EQ(m["shard"], (json{{"index", i}, {"count", 2}}));
      if (std::string(model) == "ft") {
        for (const auto& line : testing::read_json_lines(shard / "generations.jsonl"))
          EXPECT_TRUE(ids.insert(line["id"].get<std::string>()).second) << "in one shard only";
      }
    }
  }
  EXPECT_EQ(ids.size(), 6u) << "the two shards together hold every sample once";

  // Merge one model's shards; equal to a single-host run of that model.
  auto r = evaluate("merge --output " + q(dir / "ft") + " " + q(dir / "h0" / "ft") + " " +
                    q(dir / "h1" / "ft"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::path single_cfg = dir.write("single.json", R"({"dummy_samples": 6, "dummy_max_new_tokens": 6,
      "metrics": ["squad", "bleu"], "bootstrap": {"resamples": 50}})");
  r = evaluate("run --dummy --dataset " + q(kDataset) + " --config " + q(single_cfg) +
               " --output " + q(dir / "single"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // generations.jsonl is in finishing order on one host, in dataset order merged.
  auto sorted_lines = [](const fs::path& p) {
    std::multiset<std::string> lines;
    for (const auto& j : testing::read_json_lines(p)) lines.insert(j.dump());
    return lines;
  };
  EXPECT_EQ(sorted_lines(dir / "ft" / "generations.jsonl"),
            sorted_lines(dir / "single" / "generations.jsonl"));
  EXPECT_EQ(read_file(dir / "ft" / "scores.jsonl"), read_file(dir / "single" / "scores.jsonl"));
}

TEST(EvaluatePipelineTest, AMissingModelOfSeveralIsRefusedBeforeAnyModelRuns) {
  testing::TempDir dir;
  fs::path cfg = dir.write("multi.json", R"({"dummy_samples": 2, "dummy_max_new_tokens": 2,
      "models": [{"name": "ft"}, {"name": "typo", "path": "/nonexistent/model"}]})");
  auto r = evaluate("run --dummy --dataset " + q(kDataset) + " --config " + q(cfg) + " --output " +
                    q(dir / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/model"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out" / "ft")) << "the first model must not have run";
}

// A report without the rows that only a finished manifest has (status, finished).
std::string without_completion_rows(std::string text) {
  const std::regex rows(
      R"(\| (status|finished) \|[^\n]*\n|<tr><th>(status|finished)</th><td>[^<]*</td></tr>)");
  return std::regex_replace(text, rows, "");
}

TEST(EvaluatePipelineTest, TheRunsReportsEqualTheOnesRebuiltFromItsFiles) {
  // The Summarize stage renders the reports from memory; `evaluate report` from the files.
  testing::TempDir dir;
  fs::path cfg = dir.write("c.json", R"({"dummy_samples": 6, "dummy_max_new_tokens": 6,
      "metrics": ["squad", "bleu"], "bootstrap": {"resamples": 50}})");
  auto r = evaluate("run --dummy --dataset " + q(kDataset) + " --config " + q(cfg) + " --output " +
                    q(dir / "run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::path data = dir.write(
      "scored.jsonl", R"({"id": "a", "instruction": "Q1", "output": "x y", "prediction": "x"})"
                      "\n"
                      R"({"id": "b", "instruction": "Q2", "output": "z", "prediction": "z"})"
                      "\n");
  r = evaluate("score --dataset " + q(data) + " --output " + q(dir / "score"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* run : {"run", "score"}) {
    SCOPED_TRACE(run);
    fs::path folder = dir / run;
    const std::string md = read_file(folder / "report.md");
    const std::string html = read_file(folder / "report.html");
    EXPECT_NE(md.find("Worst samples"), std::string::npos) << md;
    r = evaluate("report " + q(folder));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(without_completion_rows(read_file(folder / "report.md")),
              without_completion_rows(md));
    EXPECT_EQ(without_completion_rows(read_file(folder / "report.html")),
              without_completion_rows(html));
  }
}

// summary.json's means and CIs recomputed from scores.jsonl, written from the documented
// algorithm (scoring/README.md): one draw of `resamples` x n indices for the whole run (n = the
// samples of scores.jsonl, in order); per metric or judge criterion, the mean of the values
// present among each resample's drawn samples (a resample with none dropped), summed in draw
// order; linear quantiles.
const std::string kPythonSummary = std::string(testing::kPythonBootstrapBase) + R"PY(
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
resamples, seed, conf = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
n = len(lines)
rng = MT64(seed)
sets = [[bounded(rng, n) for _ in range(n)] for _ in range(resamples)]
def summarize(values):
    present = [v for v in values if v is not None]
    total = 0.0
    for v in present: total += v
    means = []
    for s in sets:
        t, c = 0.0, 0
        for i in s:
            if values[i] is None: continue
            t += values[i]; c += 1
        if c: means.append(t / c)
    means.sort()
    alpha = 1.0 - conf
    return {"mean": total / len(present), "n": len(present),
            "ci_low": quantile(means, alpha / 2), "ci_high": quantile(means, 1.0 - alpha / 2)}
out = {}
for name in sorted(set().union(*[l["metrics"].keys() for l in lines])):
    out[name] = summarize([l["metrics"].get(name) for l in lines])
for c in sorted(set().union(*[l.get("judges", {}).keys() for l in lines])):
    out["judge." + c] = summarize([l.get("judges", {}).get(c, {}).get("score") for l in lines])
print(json.dumps(out))
)PY";

TEST(EvaluatePipelineTest, OneBootstrapDrawServesEveryMetricAndJudgeCriterion) {
  // 10 samples, 3 without a reference: the metrics cover 7, the dummy judge all 10, and every
  // CI comes from the same draws over the 10.
  testing::TempDir dir;
  std::string data;
  int i = 0;
  for (const auto& line : testing::read_json_lines(kDataset)) {
    if (i == 10) break;
    json rec = line;
    if (i % 4 == 1) rec["output"] = "";
    data += rec.dump() + "\n";
    ++i;
  }
  fs::path ds = dir.write("d.jsonl", data);
  fs::path cfg = dir.write("c.json", R"({"dummy_samples": 10, "dummy_max_new_tokens": 8,
      "metrics": ["squad", "bleu", "chrf"], "bootstrap": {"resamples": 300, "seed": 77}})");
  auto r = evaluate("run --dummy --dataset " + q(ds) + " --config " + q(cfg) + " --output " +
                    q(dir / "run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::path py = dir.write("summary.py", kPythonSummary);
  auto p = run_command("python3 " + q(py) + " " + q(dir / "run" / "scores.jsonl") +
                       " 300 77 0.95 > " + q(dir / "py.json"));
  if (p.exit_code != 0) GTEST_SKIP() << "python3 is needed for the reference: " << p.output;
  const json ref = json::parse(read_file(dir / "py.json"));
  const json summary = json::parse(read_file(dir / "run" / "summary.json"));
  ASSERT_TRUE(ref.contains("squad_f1") && ref.contains("judge.accuracy")) << ref.dump();
  EXPECT_EQ(ref["squad_f1"]["n"], 7);
  EXPECT_EQ(ref["judge.accuracy"]["n"], 10);
  for (auto it = ref.begin(); it != ref.end(); ++it) {
    SCOPED_TRACE(it.key());
    const bool judge = it.key().rfind("judge.", 0) == 0;
    const json& got = judge ? summary["judges"][it.key().substr(6)] : summary["metrics"][it.key()];
    ASSERT_TRUE(got.is_object()) << summary.dump(1);
    EXPECT_EQ(got["n"], it.value()["n"]);
    for (const char* f : {"mean", "ci_low", "ci_high"}) {
      EXPECT_NEAR(got[f].get<double>(), it.value()[f].get<double>(), 1e-12) << f;
    }
  }
}

}  // namespace
}  // namespace assay
