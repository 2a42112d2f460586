// The model-needing metrics end to end: `evaluate run --dummy` with answer_tokens and the
// perplexity group (per-sample values, corpus perplexity, their arithmetic relations, and the
// model finding its own greedy answers far more likely than the human references), and
// `evaluate score` refusing them with exit 2 and a message that says they need the model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <numbers>

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

const fs::path kSampleDataset = fs::path(ASSAY_SOURCE_DIR) / "configs/sample/llmtwin_test.jsonl";
const std::string kCleanEnv = testing::kCleanEvaluateEnv;

std::map<std::string, json> by_id(const fs::path& p) {
  std::map<std::string, json> out;
  for (auto& r : read_jsonl(p, TornTail::kError).records) out[r.value["id"]] = r.value;
  return out;
}

testing::ProcessResult evaluate(const std::string& args) {
  return run_command("cd /tmp && " + kCleanEnv + shell_quote(ASSAY_EVALUATE_BIN) +
                     " --log-format human " + args);
}

TEST(EvaluateModelMetricsTest, RunComputesAnswerTokensAndReferencePerplexity) {
  testing::TempDir dir;
  fs::path out = dir / "run";
  auto r = evaluate("run --dummy --dataset " + shell_quote(kSampleDataset.string()) + " --output " +
                    shell_quote(out.string()) + " --metrics answer_tokens,perplexity,squad_f1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto gens = by_id(out / "generations.jsonl");
  auto scores = by_id(out / "scores.jsonl");
  ASSERT_EQ(scores.size(), 8u);
  std::map<std::string, json> data;
  for (auto& rec : read_jsonl(kSampleDataset, TornTail::kError).records)
    data[rec.value["id"]] = rec.value;
  double sum_ppl = 0;
  for (const auto& [id, s] : scores) {
    const json& m = s["metrics"];
    EXPECT_EQ(m["answer_tokens"].get<double>(), gens[id]["completion_tokens"].get<double>()) << id;
    EXPECT_TRUE(m.contains("squad_f1")) << "string metrics still computed: " << s;
    double ppl = m["ref_perplexity"].get<double>(), bpb = m["ref_bits_per_byte"].get<double>();
    EXPECT_TRUE(std::isfinite(ppl) && ppl > 1.0) << id << " " << ppl;
    EXPECT_GT(bpb, 0.0) << id;
    sum_ppl += ppl;
  }
  auto summary = json::parse(read_file(out / "summary.json"));
  const json& corpus = summary["corpus"]["perplexity"];
  ASSERT_TRUE(corpus.is_object()) << summary.dump(1);
  EXPECT_EQ(corpus["n"], 8);
  // Both corpus figures come from the same summed log-probability: -sum = tokens * ln(ppl) =
  // bytes * ln(2) * bpb; bytes is the references' UTF-8 size.
  size_t bytes = 0;
  for (const auto& [id, s] : scores) bytes += data[id]["output"].get<std::string>().size();
  EXPECT_EQ(corpus["bytes"].get<size_t>(), bytes);
  double neg_sum_a = corpus["tokens"].get<double>() * std::log(corpus["score"].get<double>());
  double neg_sum_b =
      static_cast<double>(bytes) * std::numbers::ln2 * corpus["bits_per_byte"].get<double>();
  EXPECT_NEAR(neg_sum_a, neg_sum_b, 1e-9 * neg_sum_a);
  EXPECT_LE(corpus["ci_low"].get<double>(), corpus["score"].get<double>());
  EXPECT_GE(corpus["ci_high"].get<double>(), corpus["score"].get<double>());
  EXPECT_NEAR(summary["metrics"]["ref_perplexity"]["mean"].get<double>(), sum_ppl / 8, 1e-9);
  EXPECT_TRUE(summary["metrics"].contains("answer_tokens"));

  // The same prompts with the model's own greedy answers as references: every token was the
  // model's argmax, so their perplexity is far below that of the human-written references.
  std::string dataset2;
  for (const auto& [id, g] : gens) {
    if (g["output"].get<std::string>().empty()) continue;
    json rec = data[id];
    rec["output"] = g["output"];
    dataset2 += rec.dump() + "\n";
  }
  fs::path ds2 = dir.write("greedy.jsonl", dataset2);
  fs::path out2 = dir / "run2";
  auto r2 = evaluate("run --dummy --dataset " + shell_quote(ds2.string()) + " --output " +
                     shell_quote(out2.string()) + " --metrics perplexity");
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  auto summary2 = json::parse(read_file(out2 / "summary.json"));
  EXPECT_LT(summary2["corpus"]["perplexity"]["score"].get<double>(),
            0.5 * corpus["score"].get<double>())
      << summary2["corpus"].dump() << " vs " << corpus.dump();
}

TEST(EvaluateModelMetricsTest, ScoreRejectsModelMetricsWithExit2) {
  testing::TempDir dir;
  fs::path ds = dir.write("d.jsonl",
                          "{\"id\": \"a\", \"instruction\": \"q\", \"output\": \"x\", "
                          "\"prediction\": \"x\"}\n");
  for (const char* name : {"perplexity", "ref_perplexity", "answer_tokens"}) {
    auto r = evaluate("score --dataset " + shell_quote(ds.string()) + " --output " +
                      shell_quote((dir / "out").string()) + " --metrics squad," + name);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(name), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("needs the model"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir / "out" / "summary.json"));
  }
}

}  // namespace
}  // namespace assay
