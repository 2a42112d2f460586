#include "eval/gates.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/error.h"
#include "core/fs.h"
#include "core/suggest.h"
#include "eval/judge_reliability.h"
#include "scoring/metric_registry.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// "sentence_bleu, chrf, chrf_pp and ter": the metrics that bring a corpus metric along.
std::string corpus_metric_sources() {
  std::vector<std::string> names;
  for (const auto& family : scoring::metric_families()) {
    if (family.corpus) names.push_back(family.columns.front().name);
  }
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  return out;
}

const std::vector<std::string> kMetricFields = {"mean", "n", "stderr", "ci_low", "ci_high"};
const std::vector<std::string> kJudgeFields = {
    "mean", "ci_low", "ci_high", "n", "n_errors", "win_rate", "tie_rate", "loss_rate",
    "consistency",
    // Reliability (eval/judge_reliability.h): repeats, several judges, calibration, LC.
    "agreement", "repeat_sd", "flip_rate", "repeat_alpha", "kappa", "alpha", "n_agreement",
    "n_labelled", "human_mean", "human_kappa", "human_alpha", "calibrated_mean",
    "calibrated_ci_low", "calibrated_ci_high", "lc_win_rate", "lc_ci_low", "lc_ci_high",
    "length_coef"};
const std::vector<std::string> kCalibratedFields = {"mean", "ci_low", "ci_high"};
const std::vector<std::string> kCorpusFields = {"score",   "ci_low",      "ci_high",   "bp",
                                                "sys_len", "ref_len",     "num_edits", "ref_length",
                                                "n",       "not_computed"};
const std::vector<std::string> kCompareFields = {"a",       "b",       "diff", "ci_low",
                                                 "ci_high", "p_value", "n"};
const std::map<std::string, std::vector<std::string>> kSummarySections = {
    {"judge_usage",
     {"calls", "cache_hits", "retries", "prompt_tokens", "completion_tokens", "cost_usd"}},
    {"generation", {"prompt_tokens", "completion_tokens", "resumed"}},
    {"judge_reliability", reliability_overview_fields()},
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, size_t from, size_t to,
                 const std::string& sep) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += (i == from ? "" : sep) + parts[i];
  return out;
}

template <typename Container>
std::string list(const Container& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

[[noreturn]] void bad_gate(const std::string& origin, const std::string& key,
                           const std::string& why) {
  throw_invalid(origin + ": gate '" + key + "': " + why);
}

void check_field(const std::string& origin, const std::string& key, const std::string& field,
                 const std::vector<std::string>& allowed) {
  if (!contains(allowed, field)) {
    bad_gate(origin, key,
             "unknown field '" + field + "'" + did_you_mean(field, allowed) +
                 " (fields: " + list(allowed) + ")");
  }
}

void parse_condition(const std::string& origin, Gate& g) {
  std::string c = g.condition;
  size_t b = c.find_first_not_of(" \t");
  size_t e = c.find_last_not_of(" \t");
  c = b == std::string::npos ? "" : c.substr(b, e - b + 1);
  for (const char* op : {">=", "<=", "==", "!=", ">", "<"}) {
    if (c.rfind(op, 0) == 0) {
      g.op = op;
      break;
    }
  }
  std::string num = g.op.empty() ? "" : c.substr(g.op.size());
  size_t nb = num.find_first_not_of(" \t");
  num = nb == std::string::npos ? "" : num.substr(nb);
  char* end = nullptr;
  double v = num.empty() ? 0 : std::strtod(num.c_str(), &end);
  if (g.op.empty() || num.empty() || *end != '\0' || !std::isfinite(v)) {
    bad_gate(origin, g.key,
             "condition '" + g.condition +
                 "' must be an operator (>=, >, <=, <, ==, !=) and a number, e.g. \">= 0.30\"");
  }
  g.threshold = v;
}

void parse_key(const std::string& origin, Gate& g) {
  std::string rest = g.key;
  if (size_t slash = rest.find('/'); slash != std::string::npos) {
    g.model = rest.substr(0, slash);
    rest = rest.substr(slash + 1);
    if (g.model.empty() || rest.empty() || rest.find('/') != std::string::npos) {
      bad_gate(origin, g.key, "a key is [MODEL/]NAME[.FIELD], e.g. \"dpo/rougeL_f.ci_low\"");
    }
  }
  std::vector<std::string> parts = split(rest, '.');
  for (const auto& p : parts) {
    if (p.empty()) bad_gate(origin, g.key, "empty part in the key");
  }
  const std::string& head = parts[0];
  auto arity = [&](size_t lo, size_t hi, const char* shape) {
    if (parts.size() < lo || parts.size() > hi) {
      bad_gate(origin, g.key, std::string("expected ") + shape);
    }
  };
  if (head == "compare") {
    arity(2, 4, "compare.METRIC[.FIELD], e.g. compare.judge.accuracy.diff");
    g.source = GateSource::kCompare;
    if (parts.size() >= 3 && contains(kCompareFields, parts.back())) {
      g.field = parts.back();
      g.name = join(parts, 1, parts.size() - 1, ".");
    } else {
      g.field = "diff";
      g.name = join(parts, 1, parts.size(), ".");
    }
    // compare.METRIC.X where X is not a field and METRIC has no dots: a misspelt field.
    if (parts.size() == 3 && g.field == "diff" && parts[1] != "judge" && parts[1] != "corpus") {
      check_field(origin, g.key, parts[2], kCompareFields);
    }
  } else if ((head == "judge" || head == "judges") && parts.size() == 2 &&
             contains(reliability_overview_fields(), parts[1])) {
    // judge.kappa, judge.agreement, ...: the weakest criterion's figure.
    g.source = GateSource::kSummary;
    g.name = "judge_reliability";
    g.field = parts[1];
  } else if ((head == "judge" || head == "judges") && parts.size() >= 3 &&
             parts[1] == "calibrated") {
    arity(3, 4, "judge.calibrated.CRITERION[.FIELD], e.g. judge.calibrated.accuracy.mean");
    g.source = GateSource::kJudge;
    g.name = parts[2];
    const std::string field = parts.size() == 4 ? parts[3] : "mean";
    check_field(origin, g.key, field, kCalibratedFields);
    g.field = "calibrated_" + field;
  } else if (head == "judge" || head == "judges") {
    arity(2, 3, "judge.CRITERION[.FIELD], e.g. judge.accuracy.mean");
    g.source = GateSource::kJudge;
    g.name = parts[1];
    g.field = parts.size() == 3 ? parts[2] : "mean";
    check_field(origin, g.key, g.field, kJudgeFields);
  } else if (head == "corpus") {
    arity(2, 3, "corpus.NAME[.FIELD], e.g. corpus.bleu.score");
    g.source = GateSource::kCorpus;
    g.name = parts[1];
    g.field = parts.size() == 3 ? parts[2] : "score";
    check_field(origin, g.key, g.field, kCorpusFields);
  } else if (auto it = kSummarySections.find(head); it != kSummarySections.end()) {
    arity(2, 2, (head + ".FIELD").c_str());
    g.source = GateSource::kSummary;
    g.name = head;
    g.field = parts[1];
    check_field(origin, g.key, g.field, it->second);
  } else if (head == "n_samples") {
    arity(1, 1, "n_samples");
    g.source = GateSource::kSummary;
    g.name = head;
  } else {
    arity(1, 2, "METRIC[.FIELD], e.g. rougeL_f or rougeL_f.ci_low");
    g.source = GateSource::kMetric;
    g.name = head;
    g.field = parts.size() == 2 ? parts[1] : "mean";
    check_field(origin, g.key, g.field, kMetricFields);
  }
}

// The compare.json metric key a compare gate names: "accuracy" may stand for "judge.accuracy".
const json* find_compare_metric(const json& metrics, const std::string& name) {
  if (metrics.contains(name)) return &metrics[name];
  if (metrics.contains("judge." + name)) return &metrics["judge." + name];
  return nullptr;
}

std::vector<std::string> keys_of(const json& obj) {
  std::vector<std::string> out;
  if (obj.is_object()) {
    for (auto it = obj.begin(); it != obj.end(); ++it) out.push_back(it.key());
  }
  return out;
}

json read_json(const fs::path& p) {
  std::string text = read_file(p);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw_invalid(p.string() + ": not valid JSON: " + e.what());
  }
}

// Files a gate reads, loaded once per folder.
class GateFiles {
 public:
  explicit GateFiles(fs::path dir) : dir_(std::move(dir)) {
    std::error_code ec;
    if (fs::exists(dir_ / "summary.json", ec)) {
      top_summary_ = read_json(dir_ / "summary.json");
      multi_ = top_summary_.value("kind", "") == "multi";
    } else if (!fs::exists(dir_ / "compare.json", ec)) {
      throw_not_found(dir_.string() + ": no summary.json or compare.json to check gates against");
    }
  }

  // summary.json a plain (or MODEL/) key addresses.
  const json& summary(const Gate& g) {
    fs::path p = summary_path(g);
    auto it = cache_.find(p.string());
    if (it == cache_.end()) it = cache_.emplace(p.string(), read_json(p)).first;
    return it->second;
  }
  const json& compare(const Gate& g) {
    fs::path p = compare_path(g);
    auto it = cache_.find(p.string());
    if (it == cache_.end()) it = cache_.emplace(p.string(), read_json(p)).first;
    return it->second;
  }
  fs::path summary_path(const Gate& g) const {
    if (multi_) return dir_ / model_dir(g) / "summary.json";
    if (!g.model.empty()) not_multi(g);
    if (!top_summary_.is_null()) return dir_ / "summary.json";
    json c = read_json(dir_ / "compare.json");  // an `evaluate compare` output folder: run A
    return fs::path(c["a"].value("path", "")) / "summary.json";
  }
  fs::path compare_path(const Gate& g) const {
    if (multi_ && !g.model.empty()) {
      for (const auto& c : top_summary_.value("comparisons", json::array())) {
        if (c.value("a", "") == g.model) return dir_ / c.value("file", "");
      }
      throw_invalid("gate '" + g.key + "': model '" + g.model +
                    "' is not compared with the baseline (it is the baseline, or unknown)");
    }
    if (!g.model.empty()) not_multi(g);
    fs::path p = dir_ / "compare.json";
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      throw_invalid("gate '" + g.key + "': " + dir_.string() +
                    " has no compare.json (compare.* gates need a multi-model run or `evaluate "
                    "compare`)");
    }
    return p;
  }

 private:
  [[noreturn]] void not_multi(const Gate& g) const {
    throw_invalid("gate '" + g.key + "': " + dir_.string() +
                  " is not a multi-model run; a MODEL/ prefix needs one");
  }
  std::string model_dir(const Gate& g) const {
    std::string want = g.model.empty() ? top_summary_.value("primary", "") : g.model;
    std::vector<std::string> names;
    for (const auto& m : top_summary_.value("models", json::array())) {
      if (m.value("name", "") == want) return m.value("dir", want);
      names.push_back(m.value("name", ""));
    }
    throw_invalid("gate '" + g.key + "': no model '" + want + "' in this run" +
                  did_you_mean(want, names) + " (models: " + list(names) + ")");
  }

  fs::path dir_;
  json top_summary_;
  bool multi_ = false;
  std::map<std::string, json> cache_;
};

std::optional<double> number_or_null(const json& v) {
  if (v.is_number()) return v.get<double>();
  return std::nullopt;
}

std::optional<double> lookup(GateFiles& files, const Gate& g) {
  auto entry_of = [&](const json& section, const char* what, const fs::path& file) -> const json& {
    if (!section.is_object() || !section.contains(g.name)) {
      auto names = keys_of(section);
      throw_invalid("gate '" + g.key + "': " + file.string() + " has no " + what + " '" + g.name +
                    "'" + did_you_mean(g.name, names) + " (it has: " + list(names) + ")");
    }
    return section[g.name];
  };
  switch (g.source) {
    case GateSource::kMetric: {
      const json& s = files.summary(g);
      return number_or_null(
          entry_of(s.value("metrics", json::object()), "metric", files.summary_path(g))
              .value(g.field, json()));
    }
    case GateSource::kJudge: {
      const json& s = files.summary(g);
      return number_or_null(
          entry_of(s.value("judges", json::object()), "judge criterion", files.summary_path(g))
              .value(g.field, json()));
    }
    case GateSource::kCorpus: {
      const json& s = files.summary(g);
      return number_or_null(
          entry_of(s.value("corpus", json::object()), "corpus metric", files.summary_path(g))
              .value(g.field, json()));
    }
    case GateSource::kSummary: {
      const json& s = files.summary(g);
      if (g.field.empty()) return number_or_null(s.value(g.name, json()));
      if (!s.contains(g.name)) {
        throw_invalid("gate '" + g.key + "': " + files.summary_path(g).string() + " has no '" +
                      g.name + "' section");
      }
      return number_or_null(s[g.name].value(g.field, json()));
    }
    case GateSource::kCompare: {
      const json& c = files.compare(g);
      const json metrics = c.value("metrics", json::object());
      const json* m = find_compare_metric(metrics, g.name);
      if (m == nullptr) {
        auto names = keys_of(metrics);
        throw_invalid("gate '" + g.key + "': " + files.compare_path(g).string() +
                      " has no metric '" + g.name + "'" + did_you_mean(g.name, names) +
                      " (it has: " + list(names) + ")");
      }
      return number_or_null(m->value(g.field, json()));
    }
  }
  return std::nullopt;
}

bool holds(double v, const std::string& op, double t) {
  if (op == ">=") return v >= t;
  if (op == ">") return v > t;
  if (op == "<=") return v <= t;
  if (op == "<") return v < t;
  bool equal = std::fabs(v - t) <= 1e-9 * std::max(1.0, std::fabs(t));
  return op == "==" ? equal : !equal;
}

}  // namespace

std::vector<Gate> parse_gates(const json& gates, const std::string& origin) {
  std::vector<Gate> out;
  if (gates.is_null()) return out;
  if (!gates.is_object()) throw_invalid(origin + ": gates must be an object {\"key\": \">= 0.3\"}");
  for (auto it = gates.begin(); it != gates.end(); ++it) {
    Gate g;
    g.key = it.key();
    if (!it.value().is_string()) {
      bad_gate(origin, g.key,
               "the condition must be a string such as \">= 0.30\", got " +
                   std::string(it.value().type_name()));
    }
    g.condition = it.value().get<std::string>();
    if (g.key.empty()) bad_gate(origin, g.key, "empty key");
    parse_condition(origin, g);
    parse_key(origin, g);
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<Gate> gates_from_config(const ResolvedConfig& cfg) {
  return parse_gates(cfg.at("gates"), "gates (from " + cfg.origin("gates") + ")");
}

void validate_gates(const std::vector<Gate>& gates, const GateContext& ctx) {
  for (const auto& g : gates) {
    auto fail = [&](const std::string& why) { bad_gate("gates", g.key, why); };
    if (!g.model.empty()) {
      if (ctx.models.empty()) fail("a MODEL/ prefix needs several models (config `models`)");
      if (!ctx.models.count(g.model)) {
        std::vector<std::string> names(ctx.models.begin(), ctx.models.end());
        fail("no model '" + g.model + "'" + did_you_mean(g.model, names) +
             " (models: " + list(names) + ")");
      }
    }
    std::vector<std::string> metrics(ctx.metrics.begin(), ctx.metrics.end());
    std::vector<std::string> criteria;
    if (ctx.judge_criteria) criteria.assign(ctx.judge_criteria->begin(), ctx.judge_criteria->end());
    std::vector<std::string> corpus(ctx.corpus.begin(), ctx.corpus.end());
    switch (g.source) {
      case GateSource::kMetric:
        if (!ctx.metrics.count(g.name)) {
          fail("metric '" + g.name + "' is not computed by this run" +
               did_you_mean(g.name, metrics) + " (metrics: " + list(metrics) +
               "; judge scores are judge.NAME, corpus scores "
               "corpus.NAME)");
        }
        break;
      case GateSource::kJudge:
        if (!ctx.judge_criteria) fail("no judge is configured (judge.provider)");
        if (!ctx.judge_criteria->count(g.name)) {
          fail("the rubric has no criterion '" + g.name + "'" + did_you_mean(g.name, criteria) +
               " (criteria: " + list(criteria) + ")");
        }
        if (const std::string needs = reliability_figure_needs(g.field);
            !needs.empty() && !ctx.judge_figures.count(g.field)) {
          fail("'" + g.field + "' needs " + needs);
        }
        break;
      case GateSource::kCorpus:
        if (!ctx.corpus.count(g.name)) {
          fail("corpus metric '" + g.name + "' is not computed by this run" +
               did_you_mean(g.name, corpus) + " (corpus metrics: " + list(corpus) +
               "; they come with " + corpus_metric_sources() + ")");
        }
        break;
      case GateSource::kSummary:
        if ((g.name == "judge_usage" || g.name == "judge_reliability") && !ctx.judge_criteria) {
          fail("no judge is configured (judge.provider)");
        }
        if (g.name == "judge_reliability" && !ctx.judge_figures.count(g.field)) {
          fail("'" + g.field + "' needs " + reliability_figure_needs(g.field));
        }
        break;
      case GateSource::kCompare: {
        if (!ctx.has_compare) {
          fail("compare.* gates need several models (config `models`) or `evaluate compare`");
        }
        std::vector<std::string> names = metrics;
        for (const auto& c : criteria) names.push_back("judge." + c);
        for (const auto& c : corpus) names.push_back("corpus." + c);
        if (!contains(names, g.name) && !contains(names, "judge." + g.name)) {
          fail("compare.json will have no metric '" + g.name + "'" + did_you_mean(g.name, names) +
               " (metrics: " + list(names) + ")");
        }
        break;
      }
    }
  }
}

std::vector<GateResult> evaluate_gates(const std::vector<Gate>& gates, const fs::path& dir) {
  std::vector<GateResult> out;
  if (gates.empty()) return out;
  GateFiles files(dir);
  for (const auto& g : gates) {
    GateResult r;
    r.gate = &g;
    r.value = lookup(files, g);
    r.passed = r.value.has_value() && holds(*r.value, g.op, g.threshold);
    out.push_back(r);
  }
  return out;
}

int report_gates(const std::vector<GateResult>& results, std::ostream& out) {
  if (results.empty()) return kExitOk;
  size_t wk = 4, wv = 5, wc = 9;
  std::vector<std::string> values;
  size_t failed = 0;
  for (const auto& r : results) {
    char buf[64];
    if (r.value) {
      std::snprintf(buf, sizeof buf, "%.6g", *r.value);
    } else {
      std::snprintf(buf, sizeof buf, "null");
    }
    values.emplace_back(buf);
    wk = std::max(wk, r.gate->key.size());
    wv = std::max(wv, values.back().size());
    wc = std::max(wc, r.gate->condition.size());
    if (!r.passed) ++failed;
  }
  auto pad = [](std::string s, size_t w) {
    s.resize(std::max(s.size(), w), ' ');
    return s;
  };
  out << "\nCI gates\n"
      << pad("gate", wk) << "  " << pad("value", wv) << "  " << pad("condition", wc)
      << "  result\n";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    out << pad(r.gate->key, wk) << "  " << pad(values[i], wv) << "  " << pad(r.gate->condition, wc)
        << "  " << (r.passed ? "pass" : "FAIL") << "\n";
  }
  if (failed == 0) {
    out << "all " << results.size() << " gates passed\n";
    return kExitOk;
  }
  out << failed << " of " << results.size() << " gates failed\n";
  return kExitGateFailed;
}

}  // namespace assay::eval
