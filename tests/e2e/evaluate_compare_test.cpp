// `evaluate compare`, `evaluate gate` and multi-model `evaluate run` end to end. Two systems are
// scored with `evaluate score` on the same 40 questions (A answers 30 exactly, B 8); the
// comparison's per-sample numbers are checked against an independent Python re-implementation
// of the paired bootstrap (its own MT19937-64, checked against the C++ standard's 10000th value),
// corpus numbers against each run's own summary.json, and the CI gates' exit codes (0, 3, 2).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/jsonl.h"
#include "tests/e2e/process.h"
#include "tests/e2e/python_bootstrap.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_command;
using testing::shell_quote;

const fs::path kSampleDataset = fs::path(ASSAY_SOURCE_DIR) / "configs/sample/llmtwin_test.jsonl";
const std::string kCleanEnv = testing::kCleanEvaluateEnv;

// Paired bootstrap of mean(A) - mean(B) over the ids both scores.jsonl files share, written from
// the documented algorithm (scoring/README.md): one draw for all metrics over the n paired ids (in
// A's order): mt19937_64(seed), Lemire's bounded draw, resample by resample; per metric, pairs
// where either side lacks the value are skipped (means over the drawn present pairs, a resample
// with none dropped), sums in draw order, numpy-style linear quantiles,
// p = (1 + #{delta* against the sign}) / (resamples kept + 1).
const std::string kPythonBootstrap = std::string(testing::kPythonBootstrapBase) + R"PY(
def rows(p):
    return [json.loads(l) for l in open(p) if l.strip()]
a, b, resamples, seed = rows(sys.argv[1]), rows(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
bi = {r["id"]: r for r in b}
out = {}
def metric(r, name):
    return r["metrics"].get(name)
def judge(r, name):
    return r.get("judges", {}).get(name[6:], {}).get("score")
names = [(n, metric) for n in sorted(set().union(*[r["metrics"].keys() for r in a]))]
names += [("judge." + n, judge) for n in sorted(set().union(*[r.get("judges", {}).keys() for r in a]))]
pairs = [(r, bi[r["id"]]) for r in a if r["id"] in bi]
n = len(pairs)
rng = MT64(seed)
sets = [[bounded(rng, n) for _ in range(n)] for _ in range(resamples)]
for name, value in names:
    va, vb = [None] * n, [None] * n
    for i, (r, o) in enumerate(pairs):
        x, y = value(r, name), value(o, name)
        if x is not None and y is not None: va[i], vb[i] = float(x), float(y)
    present = [i for i in range(n) if va[i] is not None]
    m = len(present)
    sa = sb = 0.0
    for i in present: sa += va[i]; sb += vb[i]
    delta = sa / m - sb / m
    deltas = []
    for s in sets:
        da = db = 0.0; count = 0
        for i in s:
            if va[i] is None: continue
            da += va[i]; db += vb[i]; count += 1
        if count: deltas.append(da / count - db / count)
    against = sum(1 for d in deltas if delta == 0 or d == 0 or (d > 0) != (delta > 0))
    deltas.sort()
    alpha = 1.0 - 0.95
    out[name] = {"a": sa / m, "b": sb / m, "diff": delta, "n": m,
                 "ci_low": quantile(deltas, alpha / 2), "ci_high": quantile(deltas, 1.0 - alpha / 2),
                 "p_value": (1.0 + against) / (len(deltas) + 1.0)}
print(json.dumps(out))
)PY";

std::vector<json> read_lines(const fs::path& p) {
  return testing::read_json_lines(p);
}

json read_json(const fs::path& p) {
  return json::parse(read_file(p));
}

class EvaluateCompareTest : public ::testing::Test {
 protected:
  testing::ProcessResult evaluate(const std::string& args, const std::string& env = "") {
    return run_command("cd /tmp && " + kCleanEnv + env + " " + shell_quote(ASSAY_EVALUATE_BIN) +
                       " --log-format human " + args);
  }
  // Writes a dataset of `n` questions (ids q<first>...) whose prediction is the reference when
  // `exact(i)` holds and a loosely related sentence otherwise, and scores it into `out`.
  template <typename Exact>
  fs::path scored_run(const std::string& name, int first, int n, Exact exact) {
    std::string lines;
    for (int i = first; i < first + n; ++i) {
      std::string ref = "the model number " + std::to_string(i) +
                        " answers with a clear and correct sentence about topic " +
                        std::to_string(i % 7);
      std::string pred = exact(i) ? ref
                                  : "a vague reply " + std::to_string(i * 31 % 11) +
                                        " that mentions topic " + std::to_string(i % 5);
      lines += json{{"id", "q" + std::to_string(i)},
                    {"instruction", "question " + std::to_string(i)},
                    {"output", ref},
                    {"prediction", pred}}
                   .dump() +
               "\n";
    }
    fs::path data = dir_.write(name + ".jsonl", lines);
    fs::path out = dir_ / name;
    auto r = evaluate("score --dataset " + shell_quote(data.string()) + " --output " +
                      shell_quote(out.string()) + " -m squad,bleu,chrf,ter,rouge1_f,rougeL_f " +
                      "--judge-provider dummy");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return out;
  }
  void SetUp() override {
    a_ = scored_run("A", 0, 40, [](int i) { return i % 4 != 0; });  // 30 of 40 exact
    b_ = scored_run("B", 0, 40, [](int i) { return i % 5 == 0; });  // 8 of 40 exact
  }
  std::string compare_args(const fs::path& a, const fs::path& b, const fs::path& out) {
    return "compare " + shell_quote(a.string()) + " " + shell_quote(b.string()) + " -o " +
           shell_quote(out.string());
  }
  testing::TempDir dir_;
  fs::path a_, b_;
};

TEST_F(EvaluateCompareTest, ClearlyBetterSystemMatchesAnIndependentPairedBootstrap) {
  fs::path out = dir_ / "cmp";
  auto r = evaluate(compare_args(a_, b_, out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("squad_f1"), std::string::npos) << r.output;
  json c = read_json(out / "compare.json");

  // Exactly the contract's schema.
  std::set<std::string> keys;
  for (auto it = c.begin(); it != c.end(); ++it) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{"schema_version", "kind", "a", "b", "n_paired",
                                         "resamples", "seed", "metrics"}));
  EXPECT_EQ(c["schema_version"], 1);
  EXPECT_EQ(c["kind"], "compare");
  EXPECT_EQ(c["a"]["name"], "A");
  EXPECT_EQ(c["b"]["name"], "B");
  EXPECT_EQ(fs::path(c["a"]["path"].get<std::string>()), a_);
  EXPECT_EQ(c["n_paired"], 40);
  EXPECT_EQ(c["resamples"], 1000);
  EXPECT_EQ(c["seed"], 1234);
  for (auto it = c["metrics"].begin(); it != c["metrics"].end(); ++it) {
    std::set<std::string> fields;
    for (auto f = it.value().begin(); f != it.value().end(); ++f) fields.insert(f.key());
    EXPECT_EQ(fields,
              (std::set<std::string>{"a", "b", "diff", "ci_low", "ci_high", "p_value", "n"}))
        << it.key();
  }

  // Per-sample metrics: the independent Python paired bootstrap over the two scores.jsonl.
  fs::path py = dir_.write("bootstrap.py", kPythonBootstrap);
  fs::path py_out = dir_ / "py.json";
  auto p = run_command("python3 " + shell_quote(py.string()) + " " +
                       shell_quote((a_ / "scores.jsonl").string()) + " " +
                       shell_quote((b_ / "scores.jsonl").string()) + " 1000 1234 > " +
                       shell_quote(py_out.string()));
  if (p.exit_code != 0)
    GTEST_SKIP() << "python3 is needed for the reference bootstrap: " << p.output;
  json ref = read_json(py_out);
  ASSERT_TRUE(ref.contains("judge.accuracy")) << ref.dump();
  // The dummy judge's scores make a p-value strictly between the extremes: the count is checked.
  EXPECT_GT(ref["judge.accuracy"]["p_value"].get<double>(), 0.01);
  for (auto it = ref.begin(); it != ref.end(); ++it) {
    SCOPED_TRACE(it.key());
    ASSERT_TRUE(c["metrics"].contains(it.key()));
    const json& got = c["metrics"][it.key()];
    for (const char* f : {"a", "b", "diff", "ci_low", "ci_high", "p_value"}) {
      EXPECT_NEAR(got[f].get<double>(), it.value()[f].get<double>(), 1e-12) << f;
    }
    EXPECT_EQ(got["n"], it.value()["n"]);
  }
  // And the means are the runs' own summary means.
  json sa = read_json(a_ / "summary.json"), sb = read_json(b_ / "summary.json");
  EXPECT_NEAR(c["metrics"]["squad_f1"]["a"].get<double>(),
              sa["metrics"]["squad_f1"]["mean"].get<double>(), 1e-12);
  EXPECT_NEAR(c["metrics"]["squad_f1"]["b"].get<double>(),
              sb["metrics"]["squad_f1"]["mean"].get<double>(), 1e-12);
  // A is clearly better: exact match 30/40 vs 8/40.
  const json& em = c["metrics"]["squad_em"];
  EXPECT_NEAR(em["diff"].get<double>(), 30.0 / 40 - 8.0 / 40, 1e-12);
  EXPECT_LT(em["p_value"].get<double>(), 0.05);
  EXPECT_GT(em["ci_low"].get<double>(), 0.0);

  // Corpus metrics: resampled from per-sample statistics; on all samples they are each run's
  // own corpus score (computed by `evaluate score`).
  for (const char* name : {"bleu", "chrf", "chrf_pp", "ter"}) {
    SCOPED_TRACE(name);
    const json& m = c["metrics"]["corpus." + std::string(name)];
    ASSERT_TRUE(m.is_object()) << c["metrics"].dump();
    EXPECT_NEAR(m["a"].get<double>(), sa["corpus"][name]["score"].get<double>(), 1e-9);
    EXPECT_NEAR(m["b"].get<double>(), sb["corpus"][name]["score"].get<double>(), 1e-9);
    EXPECT_NEAR(m["diff"].get<double>(), m["a"].get<double>() - m["b"].get<double>(), 1e-12);
    EXPECT_LE(m["ci_low"].get<double>(), m["diff"].get<double>());
    EXPECT_GE(m["ci_high"].get<double>(), m["diff"].get<double>());
    EXPECT_LT(m["p_value"].get<double>(), 0.05);
    EXPECT_EQ(m["n"], 40);
  }
  EXPECT_GT(c["metrics"]["corpus.bleu"]["diff"].get<double>(), 0);
  EXPECT_LT(c["metrics"]["corpus.ter"]["diff"].get<double>(), 0) << "A needs fewer edits";
  // Judge criteria are compared too (dummy judge).
  EXPECT_TRUE(c["metrics"].contains("judge.accuracy")) << c["metrics"].dump();
  EXPECT_TRUE(c["metrics"].contains("judge.style"));
}

TEST_F(EvaluateCompareTest, IdenticalRunsGiveZeroDiffAndPValueOneAndSwappingNegates) {
  auto same = evaluate(compare_args(a_, a_, dir_ / "same"));
  ASSERT_EQ(same.exit_code, 0) << same.output;
  json c = read_json(dir_ / "same" / "compare.json");
  ASSERT_FALSE(c["metrics"].empty());
  for (auto it = c["metrics"].begin(); it != c["metrics"].end(); ++it) {
    EXPECT_EQ(it.value()["diff"].get<double>(), 0.0) << it.key();
    EXPECT_EQ(it.value()["ci_low"].get<double>(), 0.0) << it.key();
    EXPECT_EQ(it.value()["ci_high"].get<double>(), 0.0) << it.key();
    EXPECT_EQ(it.value()["p_value"].get<double>(), 1.0) << it.key();
  }
  ASSERT_EQ(evaluate(compare_args(a_, b_, dir_ / "ab")).exit_code, 0);
  ASSERT_EQ(evaluate(compare_args(b_, a_, dir_ / "ba")).exit_code, 0);
  json ab = read_json(dir_ / "ab" / "compare.json"), ba = read_json(dir_ / "ba" / "compare.json");
  for (auto it = ab["metrics"].begin(); it != ab["metrics"].end(); ++it) {
    const json& r = ba["metrics"][it.key()];
    EXPECT_NEAR(r["diff"].get<double>(), -it.value()["diff"].get<double>(), 1e-9) << it.key();
    EXPECT_EQ(r["a"], it.value()["b"]) << it.key();
    EXPECT_EQ(r["p_value"], it.value()["p_value"]) << it.key();
  }
}

TEST_F(EvaluateCompareTest, SampleSetsMetricSelectionAndBadInput) {
  // Disjoint ids: exit 2.
  fs::path c = scored_run("C", 100, 10, [](int) { return true; });
  auto r = evaluate(compare_args(a_, c, dir_ / "x"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("share no sample id"), std::string::npos) << r.output;
  // Half the ids: a warning, 20 pairs.
  fs::path d = scored_run("D", 20, 40, [](int) { return true; });
  r = evaluate(compare_args(a_, d, dir_ / "ad"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("different sample sets"), std::string::npos) << r.output;
  json ad = read_json(dir_ / "ad" / "compare.json");
  EXPECT_EQ(ad["n_paired"], 20);
  EXPECT_EQ(ad["metrics"]["squad_em"]["n"], 20);
  // ids q20..q39 of A: exact unless i % 4 == 0 (5 of them); D is all exact.
  EXPECT_NEAR(ad["metrics"]["squad_em"]["diff"].get<double>(), 15.0 / 20 - 1.0, 1e-12);

  // -m selects; an unknown name is exit 2 with a suggestion.
  r = evaluate(compare_args(a_, b_, dir_ / "m") + " -m squad_f1,corpus.bleu,judge");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::set<std::string> names;
  json selected = read_json(dir_ / "m" / "compare.json")["metrics"];
  for (auto it = selected.begin(); it != selected.end(); ++it) names.insert(it.key());
  EXPECT_EQ(names,
            (std::set<std::string>{"squad_f1", "corpus.bleu", "judge.accuracy", "judge.style"}));
  r = evaluate(compare_args(a_, b_, dir_ / "m2") + " -m squad_f2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("did you mean 'squad_f1'"), std::string::npos) << r.output;
  r = evaluate(compare_args(a_, dir_ / "missing", dir_ / "m3"));
  EXPECT_EQ(r.exit_code, 2) << r.output;

  // Default output is RUN_A; a compare.json of another pair is not replaced without --force.
  ASSERT_EQ(
      evaluate("compare " + shell_quote(a_.string()) + " " + shell_quote(b_.string())).exit_code,
      0);
  EXPECT_TRUE(fs::exists(a_ / "compare.json"));
  r = evaluate("compare " + shell_quote(a_.string()) + " " + shell_quote(d.string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  r = evaluate("compare " + shell_quote(a_.string()) + " " + shell_quote(d.string()) + " --force");
  EXPECT_EQ(r.exit_code, 0) << r.output;

  // An unfinished run is refused unless --force.
  json m = read_json(b_ / "manifest.json");
  m["status"] = "interrupted";
  dir_.write("B/manifest.json", m.dump());
  r = evaluate(compare_args(a_, b_, dir_ / "u"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not completed"), std::string::npos) << r.output;
  EXPECT_EQ(evaluate(compare_args(a_, b_, dir_ / "u") + " --force").exit_code, 0);
}

TEST_F(EvaluateCompareTest, GatesDecideTheExitCode) {
  auto with_gates = [&](const std::string& gates) {
    return dir_.write("gates.json", R"({"gates": )" + gates + "}");
  };
  fs::path cfg =
      with_gates(R"({"compare.squad_em.diff": "> 0", "compare.squad_em.p_value": "< 0.05"})");
  auto r = evaluate(compare_args(a_, b_, dir_ / "g") + " -c " + shell_quote(cfg.string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("all 2 gates passed"), std::string::npos) << r.output;

  cfg = with_gates(R"({"compare.squad_em.diff": "< 0", "squad_f1": ">= 0.5"})");
  r = evaluate(compare_args(a_, b_, dir_ / "g") + " -c " + shell_quote(cfg.string()));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("FAIL"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 of 2 gates failed"), std::string::npos) << r.output;

  cfg = with_gates(R"({"compare.sqad_em.diff": "> 0"})");
  r = evaluate(compare_args(a_, b_, dir_ / "g") + " -c " + shell_quote(cfg.string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("gate 'compare.sqad_em.diff'"), std::string::npos) << r.output;

  cfg = with_gates(R"({"compare.squad_em.diff": "=> 0"})");
  r = evaluate(compare_args(a_, b_, dir_ / "g") + " -c " + shell_quote(cfg.string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("gate 'compare.squad_em.diff'"), std::string::npos) << r.output;

  // `evaluate gate` on an existing run; EVAL_GATES replaces the config's gates.
  cfg = with_gates(R"({"squad_em": "== 0.75", "corpus.bleu.score": "> 50"})");
  r = evaluate("gate " + shell_quote(a_.string()) + " -c " + shell_quote(cfg.string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = evaluate("gate " + shell_quote(a_.string()) + " -c " + shell_quote(cfg.string()),
               "EVAL_GATES='{\"squad_em\": \">= 0.8\"}'");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("0.75"), std::string::npos) << r.output;
  r = evaluate("gate " + shell_quote(a_.string()));
  EXPECT_EQ(r.exit_code, 2) << "no gates configured: " << r.output;
}

class EvaluateMultiRunTest : public ::testing::Test {
 protected:
  testing::ProcessResult run(const std::string& args, const std::string& env = "") {
    return run_command("cd /tmp && " + kCleanEnv + env + " " + shell_quote(ASSAY_EVALUATE_BIN) +
                       " --log-format human run --dummy --dataset " +
                       shell_quote(kSampleDataset.string()) + " " + args);
  }
  testing::TempDir dir_;
};

TEST_F(EvaluateMultiRunTest, ThreeModelsLikeTheHandbookIntoSubFoldersWithComparisons) {
  // The bundled model three times (dummy: no path), so every comparison is exactly zero.
  fs::path cfg = dir_.write("multi.json", R"({
      "dummy_samples": 4, "dummy_max_new_tokens": 8, "metrics": ["squad", "bleu"],
      "models": [{"name": "ft"}, {"name": "dpo", "base_model": "/nonexistent/base"},
                 {"name": "base"}],
      "gates": {"compare.accuracy.diff": "> 0"}})");
  fs::path out = dir_ / "multi";
  auto r = run("--config " + shell_quote(cfg.string()) + " --output " + shell_quote(out.string()));
  EXPECT_EQ(r.exit_code, 3) << "identical models: accuracy diff 0 fails '> 0'\n" << r.output;
  EXPECT_NE(r.output.find("compare.accuracy.diff"), std::string::npos) << r.output;

  for (const char* name : {"ft", "dpo", "base"}) {
    SCOPED_TRACE(name);
    json m = read_json(out / name / "manifest.json");
    EXPECT_EQ(m["status"], "completed");
    EXPECT_EQ(read_lines(out / name / "scores.jsonl").size(), 4u);
  }
  EXPECT_EQ(read_json(out / "dpo" / "manifest.json")["config"]["base_model"], "/nonexistent/base")
      << "base_model is recorded in the sub-run's manifest";
  json s = read_json(out / "summary.json");
  EXPECT_EQ(s["kind"], "multi");
  EXPECT_EQ(s["baseline"], "base") << "default baseline: the last model";
  EXPECT_EQ(s["primary"], "ft");
  ASSERT_EQ(s["models"].size(), 3u);
  ASSERT_EQ(s["comparisons"].size(), 2u);
  EXPECT_EQ(s["comparisons"][1]["file"], "compare-dpo-vs-base.json");
  EXPECT_EQ(read_file(out / "compare.json"), read_file(out / "compare-ft-vs-base.json"));
  json c = read_json(out / "compare-dpo-vs-base.json");
  EXPECT_EQ(c["a"]["name"], "dpo");
  EXPECT_EQ(c["b"]["name"], "base");
  EXPECT_EQ(c["n_paired"], 4);
  for (const char* k : {"squad_f1", "sentence_bleu", "judge.accuracy", "corpus.bleu"}) {
    ASSERT_TRUE(c["metrics"].contains(k)) << k << " in " << c["metrics"].dump();
    EXPECT_EQ(c["metrics"][k]["diff"].get<double>(), 0.0) << k;
    EXPECT_EQ(c["metrics"][k]["p_value"].get<double>(), 1.0) << k;
  }
  EXPECT_EQ(read_json(out / "manifest.json")["status"], "completed");

  // The rerun does nothing and checks the gates again; EVAL_GATES replaces them.
  std::string gens = read_file(out / "ft" / "generations.jsonl");
  r = run("--config " + shell_quote(cfg.string()) + " --output " + shell_quote(out.string()),
          "EVAL_GATES='{\"compare.judge.accuracy.diff\": \"== 0\", \"dpo/squad_f1.n\": \"== 4\"}'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Already completed"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(out / "ft" / "generations.jsonl"), gens);
}

TEST_F(EvaluateMultiRunTest, GateTyposAndBadModelListsFailBeforeAnythingIsGenerated) {
  struct Case {
    const char* config;
    const char* message;
  };
  const Case cases[] = {
      {R"({"models": [{"name": "ft"}, {"name": "base"}], "metrics": ["squad"],
           "gates": {"compare.rougeL_f": "> 0"}})",
       "gate 'compare.rougeL_f'"},
      {R"({"metrics": ["squad"], "gates": {"squad_f2": ">= 0.1"}})", "did you mean 'squad_f1'"},
      {R"({"gates": {"squad_f1": "at least 0.1"}})", "gate 'squad_f1'"},
      {R"({"gates": {"ft/squad_f1": ">= 0.1"}})", "MODEL/"},
      {R"({"models": [{"name": "ft", "pth": "x"}]})", "did you mean 'path'"},
      {R"({"models": [{"name": "a/b"}]})", "'name'"},
      {R"({"models": [{"name": "summary.json"}]})", "'name'"},
      {R"({"models": [{"name": "x"}, {"name": "x"}]})", "duplicate name 'x'"},
      {R"({"models": [{"name": "ft"}, {"name": "base"}], "baseline": "bse"})",
       "did you mean 'base'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.config);
    fs::path cfg = dir_.write("bad.json", c.config);
    fs::path out = dir_ / "never";
    auto r =
        run("--config " + shell_quote(cfg.string()) + " --output " + shell_quote(out.string()));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out)) << "nothing may be written before the gates are checked";
  }
  // --model together with `models` is ambiguous.
  fs::path cfg = dir_.write("both.json", R"({"models": [{"name": "ft"}]})");
  auto r = run("--config " + shell_quote(cfg.string()) + " --model /x --output " +
               shell_quote((dir_ / "both").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("use one"), std::string::npos) << r.output;
}

TEST_F(EvaluateMultiRunTest, SingleModelRunChecksItsGates) {
  fs::path cfg = dir_.write("one.json", R"({"dummy_samples": 2, "dummy_max_new_tokens": 4,
      "metrics": ["squad"], "gates": {"squad_f1.n": "== 2", "judge.accuracy.n": "== 2"}})");
  fs::path out = dir_ / "one";
  // --base-model is recorded (stories260K is not an adapter, so it is not used).
  const std::string args = "--config " + shell_quote(cfg.string()) + " --output " +
                           shell_quote(out.string()) + " --base-model /models/base";
  auto r = run(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("all 2 gates passed"), std::string::npos) << r.output;
  EXPECT_EQ(read_json(out / "manifest.json")["config"]["base_model"], "/models/base");
  r = run(args, "EVAL_GATES='{\"squad_f1\": \">= 0.99\"}'");
  EXPECT_EQ(r.exit_code, 3) << "stories260K does not answer llmtwin questions\n" << r.output;
  EXPECT_NE(r.output.find("Already completed"), std::string::npos) << "gates are not identity";
}

}  // namespace
}  // namespace assay
