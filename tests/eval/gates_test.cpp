// CI gates: parsing of keys and conditions, validation against what a run will produce, and
// evaluation against hand-written summary.json / compare.json files (values chosen by the test).
#include "eval/gates.h"

#include <gtest/gtest.h>

#include <sstream>

#include "core/error.h"
#include "eval/judge_reliability.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
using nlohmann::json;

// The message of the assay::Error that `f` throws, or "" when it does not throw one.
template <typename F>
std::string error_of(F f, ErrorKind want = ErrorKind::kInvalidInput) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), want) << e.what();
    return e.what();
  }
  return "";
}

const json kSummary = json::parse(R"({
  "schema_version": 1, "n_samples": 10,
  "metrics": {"rougeL_f": {"mean": 0.31, "n": 10, "stderr": 0.02, "ci_low": 0.27, "ci_high": 0.35},
              "squad_f1": {"mean": 0.5, "n": 10, "stderr": 0.1, "ci_low": 0.3, "ci_high": 0.7}},
  "corpus": {"bleu": {"score": 12.5, "ci_low": 10.0, "ci_high": 15.0}},
  "judges": {"accuracy": {"mean": 2.2, "ci_low": 2.0, "ci_high": 2.4, "n": 9, "n_errors": 1},
             "style": {"mean": null, "ci_low": null, "ci_high": null, "n": 0, "n_errors": 10}},
  "judge_usage": {"calls": 10, "cost_usd": 0.75}
})");

const json kCompare = json::parse(R"({
  "schema_version": 1, "kind": "compare", "a": {"name": "ft", "path": "/x/ft"},
  "b": {"name": "base", "path": "/x/base"}, "n_paired": 10, "resamples": 100, "seed": 1,
  "metrics": {"judge.accuracy": {"a": 2.2, "b": 2.0, "diff": 0.2, "ci_low": 0.05, "ci_high": 0.35,
                                 "p_value": 0.02, "n": 9},
              "rougeL_f": {"a": 0.31, "b": 0.31, "diff": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                           "p_value": 1.0, "n": 10}}
})");

TEST(GatesTest, ParsesKeysIntoSourcesNamesAndDefaultFields) {
  auto gates = parse_gates(json::parse(R"({
      "rougeL_f": ">= 0.30", "rougeL_f.ci_low": "> 0.2", "judge.accuracy.mean": ">= 2.0",
      "judge.style": "<= 5", "corpus.bleu.score": "> 0", "corpus.chrf": "!= 3",
      "compare.accuracy.diff": "> 0", "compare.rougeL_f.p_value": "< 0.05",
      "compare.judge.accuracy": ">0", "dpo/squad_f1": "== 1", "judge_usage.cost_usd": "<= 5",
      "n_samples": ">= 10"})"),
                           "test");
  ASSERT_EQ(gates.size(), 12u);
  std::map<std::string, const Gate*> by_key;
  for (const auto& g : gates) by_key[g.key] = &g;
  auto check = [&](const char* key, GateSource src, const char* name, const char* field,
                   const char* op, double t, const char* model = "") {
    SCOPED_TRACE(key);
    const Gate& g = *by_key.at(key);
    EXPECT_EQ(g.source, src);
    EXPECT_EQ(g.name, name);
    EXPECT_EQ(g.field, field);
    EXPECT_EQ(g.op, op);
    EXPECT_DOUBLE_EQ(g.threshold, t);
    EXPECT_EQ(g.model, model);
  };
  check("rougeL_f", GateSource::kMetric, "rougeL_f", "mean", ">=", 0.30);
  check("rougeL_f.ci_low", GateSource::kMetric, "rougeL_f", "ci_low", ">", 0.2);
  check("judge.accuracy.mean", GateSource::kJudge, "accuracy", "mean", ">=", 2.0);
  check("judge.style", GateSource::kJudge, "style", "mean", "<=", 5);
  check("corpus.bleu.score", GateSource::kCorpus, "bleu", "score", ">", 0);
  check("corpus.chrf", GateSource::kCorpus, "chrf", "score", "!=", 3);
  check("compare.accuracy.diff", GateSource::kCompare, "accuracy", "diff", ">", 0);
  check("compare.rougeL_f.p_value", GateSource::kCompare, "rougeL_f", "p_value", "<", 0.05);
  check("compare.judge.accuracy", GateSource::kCompare, "judge.accuracy", "diff", ">", 0);
  check("dpo/squad_f1", GateSource::kMetric, "squad_f1", "mean", "==", 1, "dpo");
  check("judge_usage.cost_usd", GateSource::kSummary, "judge_usage", "cost_usd", "<=", 5);
  check("n_samples", GateSource::kSummary, "n_samples", "", ">=", 10);
}

TEST(GatesTest, MalformedConditionsAndKeysNameTheGate) {
  for (const char* cond : {"=> 0.3", "0.3", ">= ", ">= abc", ">= 0.3x", "~ 1", "", ">= nan"}) {
    std::string msg = error_of([&] { parse_gates({{"rougeL_f", cond}}, "run.json"); });
    EXPECT_NE(msg.find("gate 'rougeL_f'"), std::string::npos) << cond << ": " << msg;
    EXPECT_NE(msg.find("run.json"), std::string::npos) << msg;
  }
  EXPECT_NE(error_of([] {
              parse_gates({{"rougeL_f", 0.3}}, "x");
            }).find("must be a string"),
            std::string::npos);
  std::string msg = error_of([] { parse_gates({{"rougeL_f.ci_lo", ">= 0"}}, "x"); });
  EXPECT_NE(msg.find("did you mean 'ci_low'"), std::string::npos) << msg;
  msg = error_of([] { parse_gates({{"compare.rougeL_f.p_vlaue", "< 0.05"}}, "x"); });
  EXPECT_NE(msg.find("did you mean 'p_value'"), std::string::npos) << msg;
  for (const char* key : {"a..b", "/rougeL_f", "dpo/", "x/y/z", "rougeL_f.mean.x", "compare",
                          "judge", "judge_usage", "judge_usage.costs"}) {
    EXPECT_NE(error_of([&] {
                parse_gates({{key, ">= 0"}}, "x");
              }).find(std::string("'") + key),
              std::string::npos)
        << key;
  }
  EXPECT_NE(error_of([] { parse_gates(json::array(), "x"); }).find("must be an object"),
            std::string::npos);
  EXPECT_TRUE(parse_gates(json(), "x").empty());
}

TEST(GatesTest, ValidationRejectsWhatTheRunWillNotProduce) {
  GateContext ctx;
  ctx.metrics = {"rougeL_f", "squad_f1", "sentence_bleu"};
  ctx.corpus = {"bleu"};
  ctx.judge_criteria = std::set<std::string>{"accuracy", "style"};
  auto validate = [&](const json& gates) { validate_gates(parse_gates(gates, "x"), ctx); };
  EXPECT_NO_THROW(validate({{"rougeL_f", ">= 0.3"},
                            {"judge.accuracy", ">= 2"},
                            {"corpus.bleu", "> 0"},
                            {"judge_usage.cost_usd", "<= 5"}}));
  std::string msg = error_of([&] { validate({{"rougeL_F", ">= 0.3"}}); });
  EXPECT_NE(msg.find("gate 'rougeL_F'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'rougeL_f'"), std::string::npos) << msg;
  msg = error_of([&] { validate({{"judge.acuracy", ">= 2"}}); });
  EXPECT_NE(msg.find("did you mean 'accuracy'"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] {
              validate({{"corpus.ter", "< 50"}});
            }).find("corpus.ter"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              validate({{"compare.rougeL_f", "> 0"}});
            }).find("several models"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              validate({{"dpo/rougeL_f", "> 0"}});
            }).find("MODEL/"),
            std::string::npos);

  ctx.models = {"ft", "dpo", "base"};
  ctx.has_compare = true;
  EXPECT_NO_THROW(validate({{"compare.accuracy.diff", "> 0"},
                            {"compare.corpus.bleu.p_value", "< 0.05"},
                            {"dpo/compare.rougeL_f", "> 0"},
                            {"base/judge.style", ">= 1"}}));
  msg = error_of([&] { validate({{"dp/rougeL_f", "> 0"}}); });
  EXPECT_NE(msg.find("did you mean 'dpo'"), std::string::npos) << msg;
  msg = error_of([&] { validate({{"compare.rouge1_f", "> 0"}}); });
  EXPECT_NE(msg.find("gate 'compare.rouge1_f'"), std::string::npos) << msg;

  ctx.judge_criteria.reset();
  EXPECT_NE(error_of([&] {
              validate({{"judge.accuracy", ">= 2"}});
            }).find("no judge"),
            std::string::npos);
}

TEST(GatesTest, EvaluatesAgainstASingleRunFolder) {
  testing::TempDir dir;
  dir.write("summary.json", kSummary.dump());
  dir.write("compare.json", kCompare.dump());
  auto gates = parse_gates(json::parse(R"({
      "rougeL_f": ">= 0.30", "rougeL_f.ci_low": ">= 0.30", "squad_f1.n": "== 10",
      "judge.accuracy": "> 2.2", "judge.style": ">= 1", "corpus.bleu": "> 12",
      "judge_usage.cost_usd": "<= 0.75", "n_samples": "!= 10",
      "compare.accuracy.diff": "> 0", "compare.rougeL_f.p_value": "< 0.05"})"),
                           "x");
  auto results = evaluate_gates(gates, dir.path());
  ASSERT_EQ(results.size(), gates.size());
  std::map<std::string, const GateResult*> r;
  for (const auto& x : results) r[x.gate->key] = &x;
  EXPECT_TRUE(r["rougeL_f"]->passed);
  EXPECT_DOUBLE_EQ(*r["rougeL_f"]->value, 0.31);
  EXPECT_FALSE(r["rougeL_f.ci_low"]->passed);  // 0.27
  EXPECT_TRUE(r["squad_f1.n"]->passed);
  EXPECT_FALSE(r["judge.accuracy"]->passed);  // 2.2 is not > 2.2
  EXPECT_FALSE(r["judge.style"]->passed) << "nothing judged: a null never passes";
  EXPECT_FALSE(r["judge.style"]->value.has_value());
  EXPECT_TRUE(r["corpus.bleu"]->passed);
  EXPECT_TRUE(r["judge_usage.cost_usd"]->passed);
  EXPECT_FALSE(r["n_samples"]->passed);
  EXPECT_TRUE(r["compare.accuracy.diff"]->passed) << "accuracy stands for judge.accuracy";
  EXPECT_FALSE(r["compare.rougeL_f.p_value"]->passed);

  std::ostringstream out;
  EXPECT_EQ(report_gates(results, out), kExitGateFailed);
  EXPECT_NE(out.str().find("rougeL_f.ci_low"), std::string::npos);
  EXPECT_NE(out.str().find("FAIL"), std::string::npos);
  EXPECT_NE(out.str().find("5 of 10 gates failed"), std::string::npos) << out.str();

  std::ostringstream ok;
  auto passing = parse_gates({{"rougeL_f", ">= 0.3"}, {"compare.judge.accuracy", "> 0"}}, "x");
  EXPECT_EQ(report_gates(evaluate_gates(passing, dir.path()), ok), kExitOk);
  EXPECT_NE(ok.str().find("all 2 gates passed"), std::string::npos) << ok.str();

  // A key the files do not have is bad input naming the gate and what there is.
  std::string msg = error_of([&] {
    evaluate_gates(parse_gates({{"rouge2_f", ">= 0"}}, "x"), dir.path());
  });
  EXPECT_NE(msg.find("gate 'rouge2_f'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rougeL_f, squad_f1"), std::string::npos) << msg;
  msg = error_of([&] { evaluate_gates(parse_gates({{"compare.bleu", "> 0"}}, "x"), dir.path()); });
  EXPECT_NE(msg.find("gate 'compare.bleu'"), std::string::npos) << msg;
  msg = error_of([&] { evaluate_gates(parse_gates({{"ft/rougeL_f", "> 0"}}, "x"), dir.path()); });
  EXPECT_NE(msg.find("not a multi-model run"), std::string::npos) << msg;
}

TEST(GatesTest, MultiModelFolderAddressesThePrimaryModelOrANamedOne) {
  testing::TempDir dir;
  json multi = {{"kind", "multi"},
                {"baseline", "base"},
                {"primary", "ft"},
                {"models",
                 {{{"name", "ft"}, {"dir", "ft"}},
                  {{"name", "dpo"}, {"dir", "dpo"}},
                  {{"name", "base"}, {"dir", "base"}}}},
                {"comparisons",
                 {{{"a", "ft"}, {"b", "base"}, {"file", "compare-ft-vs-base.json"}},
                  {{"a", "dpo"}, {"b", "base"}, {"file", "compare-dpo-vs-base.json"}}}}};
  dir.write("summary.json", multi.dump());
  json ft = kSummary, dpo = kSummary, base = kSummary;
  ft["metrics"]["rougeL_f"]["mean"] = 0.40;
  dpo["metrics"]["rougeL_f"]["mean"] = 0.35;
  base["metrics"]["rougeL_f"]["mean"] = 0.20;
  dir.write("ft/summary.json", ft.dump());
  dir.write("dpo/summary.json", dpo.dump());
  dir.write("base/summary.json", base.dump());
  json cft = kCompare, cdpo = kCompare;
  cft["metrics"]["rougeL_f"]["diff"] = 0.20;
  cdpo["metrics"]["rougeL_f"]["diff"] = 0.15;
  dir.write("compare.json", cft.dump());
  dir.write("compare-ft-vs-base.json", cft.dump());
  dir.write("compare-dpo-vs-base.json", cdpo.dump());
  auto gates = parse_gates(json::parse(R"({"rougeL_f": "== 0.40", "dpo/rougeL_f": "== 0.35",
      "base/rougeL_f": "== 0.20", "compare.rougeL_f": "== 0.20",
      "dpo/compare.rougeL_f.diff": "== 0.15"})"),
                           "x");
  for (const auto& r : evaluate_gates(gates, dir.path())) {
    EXPECT_TRUE(r.passed) << r.gate->key << " = " << (r.value ? *r.value : -1);
  }
  std::string msg = error_of([&] {
    evaluate_gates(parse_gates({{"base/compare.rougeL_f", "> 0"}}, "x"), dir.path());
  });
  EXPECT_NE(msg.find("not compared"), std::string::npos) << msg;
  msg = error_of([&] { evaluate_gates(parse_gates({{"dop/rougeL_f", "> 0"}}, "x"), dir.path()); });
  EXPECT_NE(msg.find("did you mean 'dpo'"), std::string::npos) << msg;
}

TEST(GatesTest, CompareOutputFolderReadsRunAForSummaryKeys) {
  testing::TempDir dir;
  dir.write("runA/summary.json", kSummary.dump());
  json c = kCompare;
  c["a"]["path"] = (dir / "runA").string();
  dir.write("out/compare.json", c.dump());
  auto r = evaluate_gates(parse_gates({{"rougeL_f", "== 0.31"}, {"compare.accuracy", "> 0"}}, "x"),
                          dir / "out");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].passed && r[1].passed);
  error_of(
      [&] {
        evaluate_gates(parse_gates({{"rougeL_f", "> 0"}}, "x"), dir / "nothing");
      },
      ErrorKind::kNotFound);
}

TEST(GatesTest, GatesComeFromTheConfigAndEvalGatesReplacesThem) {
  testing::TempDir dir;
  ConfigSources src;
  src.file = dir.write("run.json", R"({"gates": {"rougeL_f": ">= 0.3"}})");
  std::map<std::string, std::string> env;
  src.getenv = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto gates = gates_from_config(resolve_config(src));
  ASSERT_EQ(gates.size(), 1u);
  EXPECT_EQ(gates[0].key, "rougeL_f");
  env["EVAL_GATES"] = R"({"judge.accuracy": ">= 2", "squad_f1": "> 0.1"})";
  gates = gates_from_config(resolve_config(src));
  ASSERT_EQ(gates.size(), 2u);
  EXPECT_EQ(gates[0].key, "judge.accuracy");
  env["EVAL_GATES"] = R"({"squad_f1": "=> 0.1"})";
  std::string msg = error_of([&] { gates_from_config(resolve_config(src)); });
  EXPECT_NE(msg.find("EVAL_GATES"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gate 'squad_f1'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace assay::eval

namespace assay::eval {
namespace {

TEST(GatesTest, ReliabilityKeysAddressTheJudgeFigures) {
  auto gates = parse_gates(json::parse(R"({
      "judge.kappa": ">= 0.6", "judge.agreement": ">= 0.8", "judge.accuracy.agreement": ">= 0.9",
      "judge.calibrated.accuracy.mean": ">= 2", "judge.calibrated.style.ci_low": "> 1",
      "judge.pairwise.lc_win_rate": "> 0.5", "judge.flip_rate": "<= 0.1"})"),
                           "test");
  std::map<std::string, const Gate*> by_key;
  for (const auto& g : gates) by_key[g.key] = &g;
  auto check = [&](const char* key, GateSource src, const char* name, const char* field) {
    SCOPED_TRACE(key);
    const Gate& g = *by_key.at(key);
    EXPECT_EQ(g.source, src);
    EXPECT_EQ(g.name, name);
    EXPECT_EQ(g.field, field);
  };
  check("judge.kappa", GateSource::kSummary, "judge_reliability", "kappa");
  check("judge.agreement", GateSource::kSummary, "judge_reliability", "agreement");
  check("judge.flip_rate", GateSource::kSummary, "judge_reliability", "flip_rate");
  check("judge.accuracy.agreement", GateSource::kJudge, "accuracy", "agreement");
  check("judge.calibrated.accuracy.mean", GateSource::kJudge, "accuracy", "calibrated_mean");
  check("judge.calibrated.style.ci_low", GateSource::kJudge, "style", "calibrated_ci_low");
  check("judge.pairwise.lc_win_rate", GateSource::kJudge, "pairwise", "lc_win_rate");
  // Before the run: a figure the configured run will not write is exit 2 saying what it needs.
  GateContext ctx;
  ctx.judge_criteria = std::set<std::string>{"accuracy", "style"};
  ctx.judge_figures = reliability_figures(3, 1, false, false);
  auto validate = [&](const json& g) { validate_gates(parse_gates(g, "x"), ctx); };
  EXPECT_NO_THROW(validate({{"judge.accuracy.agreement", ">= 0.8"}, {"judge.flip_rate", "< 1"}}));
  std::string msg = error_of([&] { validate({{"judge.kappa", ">= 0.6"}}); });
  EXPECT_NE(msg.find("two or more judges"), std::string::npos) << msg;
  msg = error_of([&] { validate({{"judge.calibrated.accuracy.mean", ">= 2"}}); });
  EXPECT_NE(msg.find("needs judge.calibration"), std::string::npos) << msg;
  ctx.judge_figures = reliability_figures(1, 2, true, false);
  EXPECT_NO_THROW(validate({{"judge.kappa", ">= 0.6"}, {"judge.calibrated.style", ">= 2"}}));
  msg = error_of([&] { validate({{"judge.accuracy.agreement", ">= 0.8"}}); });
  EXPECT_NE(msg.find("judge.repeats of 2 or more"), std::string::npos) << msg;

  msg = error_of([&] { parse_gates({{"judge.calibrated.accuracy.median", ">= 1"}}, "run.json"); });
  EXPECT_NE(msg.find("gate 'judge.calibrated.accuracy.median'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace assay::eval
