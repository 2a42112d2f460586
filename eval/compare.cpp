#include "eval/compare.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/suggest.h"
#include "eval/dataset.h"
#include "scoring/compare.h"
#include "scoring/metric_registry.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct LoadedRun {
  fs::path dir;
  json manifest;                        // null when the folder has none
  json summary;                         // null when the folder has none
  std::vector<json> rows;               // scores.jsonl lines
  std::map<std::string, size_t> index;  // id -> row
};

json read_json_file(const fs::path& p) {
  std::string text = read_file(p);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw_invalid(p.string() + ": not valid JSON: " + e.what());
  }
}

LoadedRun load_run(const fs::path& dir) {
  LoadedRun r;
  r.dir = fs::absolute(dir).lexically_normal();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw_not_found(dir.string() + ": run folder not found");
  fs::path scores = dir / "scores.jsonl";
  if (!fs::exists(scores, ec)) {
    throw_not_found(scores.string() + ": not found (is " + dir.string() + " a finished run?)");
  }
  if (fs::exists(dir / "manifest.json", ec)) r.manifest = read_json_file(dir / "manifest.json");
  if (fs::exists(dir / "summary.json", ec)) r.summary = read_json_file(dir / "summary.json");
  for (auto& rec : read_jsonl(scores, TornTail::kError).records) {
    if (!rec.value.is_object() || !rec.value.contains("id") || !rec.value["id"].is_string()) {
      throw_invalid(scores.string() + ":" + std::to_string(rec.line) + ": needs a string 'id'");
    }
    std::string id = rec.value["id"].get<std::string>();
    if (!r.index.emplace(id, r.rows.size()).second) {
      throw_invalid(scores.string() + ":" + std::to_string(rec.line) + ": duplicate id '" + id +
                    "'");
    }
    r.rows.push_back(std::move(rec.value));
  }
  return r;
}

// (prediction, reference) per id, from the run's dataset (manifest dataset.path, checked against
// its sha256) and, for `evaluate run`, generations.jsonl. nullopt (with the reason) when the
// texts cannot be recovered.
std::optional<std::map<std::string, std::pair<std::string, std::string>>> load_texts(
    const LoadedRun& r, std::string& why) {
  if (!r.manifest.is_object()) {
    why = r.dir.string() + " has no manifest.json";
    return std::nullopt;
  }
  const json ds_info = r.manifest.value("dataset", json::object());
  const std::string path = ds_info.value("path", "");
  const std::string command = r.manifest.value("command", "");
  if (path.empty() || (command != "run" && command != "score")) {
    why = r.dir.string() + "/manifest.json names no dataset";
    return std::nullopt;
  }
  DatasetFields fields;
  const json f = r.manifest.value("config", json::object()).value("fields", json::object());
  fields.id = f.value("id", fields.id);
  fields.instruction = f.value("instruction", fields.instruction);
  fields.input = f.value("input", fields.input);
  fields.reference = f.value("reference", fields.reference);
  fields.prediction = f.value("prediction", fields.prediction);
  DatasetNeeds needs;
  needs.reference = false;
  needs.prediction = command == "score";
  Dataset ds;
  try {
    ds = load_dataset(path, fields, needs);
  } catch (const Error& e) {
    why = std::string("cannot read the dataset of ") + r.dir.string() + ": " + e.what();
    return std::nullopt;
  }
  if (ds.sha256 != ds_info.value("sha256", ds.sha256)) {
    why = path + " changed since " + r.dir.string() + " was scored";
    return std::nullopt;
  }
  std::map<std::string, std::pair<std::string, std::string>> out;
  if (command == "score") {
    for (const auto& s : ds.samples) out[s.id] = {*s.prediction, s.reference};
    return out;
  }
  std::map<std::string, std::string> refs;
  for (const auto& s : ds.samples) refs[s.id] = s.reference;
  fs::path gens = r.dir / "generations.jsonl";
  std::error_code ec;
  if (!fs::exists(gens, ec)) {
    why = gens.string() + " not found";
    return std::nullopt;
  }
  for (const auto& rec : read_jsonl(gens, TornTail::kDrop).records) {
    const json& g = rec.value;
    if (!g.is_object() || !g.contains("id") || !g["id"].is_string() || !g.contains("output") ||
        !g["output"].is_string()) {
      continue;
    }
    auto it = refs.find(g["id"].get<std::string>());
    if (it != refs.end()) out[it->first] = {g["output"].get<std::string>(), it->second};
  }
  return out;
}

double metric_value(const json& row, const std::string& name) {
  const json& m = row.value("metrics", json::object());
  auto it = m.find(name);
  return it != m.end() && it->is_number() ? it->get<double>() : kNaN;
}

double judge_value(const json& row, const std::string& name) {
  if (!row.contains("judges") || !row["judges"].is_object()) return kNaN;
  const json& j = row["judges"];
  auto it = j.find(name);
  if (it == j.end() || !it->is_object()) return kNaN;
  if (name == "pairwise" && it->contains("outcome")) {  // win 1, tie 0.5, loss 0
    std::string o = it->value("outcome", "");
    return o == "win" ? 1.0 : o == "tie" ? 0.5 : o == "loss" ? 0.0 : kNaN;
  }
  auto s = it->find("score");
  return s != it->end() && s->is_number() ? s->get<double>() : kNaN;
}

// Names present in any row's `section` object (metrics or judges).
std::set<std::string> names_in(const LoadedRun& r, const char* section) {
  std::set<std::string> out;
  for (const auto& row : r.rows) {
    auto it = row.find(section);
    if (it == row.end() || !it->is_object()) continue;
    for (auto m = it->begin(); m != it->end(); ++m) out.insert(m.key());
  }
  return out;
}

std::set<std::string> intersect(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::set<std::string> out;
  for (const auto& s : a) {
    if (b.count(s)) out.insert(s);
  }
  return out;
}

json entry(const scoring::PairedComparison& c) {
  // The paired bootstrap computes B' − A' with (A', B') = (B, A), so its delta is A − B.
  return {{"a", c.score_b},       {"b", c.score_a},       {"diff", c.delta}, {"ci_low", c.ci_low},
          {"ci_high", c.ci_high}, {"p_value", c.p_value}, {"n", c.n}};
}

using TextPair = std::pair<std::string, std::string>;  // (prediction, reference)

// Paired bootstrap of the corpus metric of `family` over `draws`: texts[i] holds pair i's
// (A, B) texts, or nulls when pair i is not scored for this metric in both runs. Null when no
// pair is.
json corpus_entry(const scoring::MetricFamily& family,
                  const std::vector<std::pair<const TextPair*, const TextPair*>>& texts,
                  const scoring::BootstrapDraws& draws) {
  const scoring::CorpusForm& form = *family.corpus;
  scoring::MetricState state;
  if (family.prepare) {
    state = family.prepare(json::object(), std::vector<bool>(family.columns.size(), true));
  }
  std::vector<double> sa(texts.size() * form.width, kNaN), sb(sa.size(), kNaN);
  std::vector<double> scratch(family.columns.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& [ta, tb] = texts[i];
    if (!ta || !tb) continue;
    family.compute(ta->first, ta->second, state.get(), scratch.data(), &sa[i * form.width]);
    family.compute(tb->first, tb->second, state.get(), scratch.data(), &sb[i * form.width]);
  }
  scoring::PairedComparison c =
      scoring::paired_bootstrap_corpus(sb, sa, form.width, form.score, draws);
  if (c.n == 0) return json();
  return entry(c);
}

std::string fmt(double v, const char* f = "%.4f") {
  char buf[32];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string label_of(const fs::path& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

}  // namespace

namespace {

// Refuses unfinished runs (unless forced) and warns when two `evaluate run` folders answered
// different dataset files.
void check_runs(const LoadedRun& a, const LoadedRun& b, bool force) {
  for (const LoadedRun* r : {&a, &b}) {
    if (r->manifest.is_object() && r->manifest.value("status", "") != "completed" && !force) {
      throw_invalid(r->dir.string() + ": the run is " + r->manifest.value("status", "?") +
                    ", not completed; finish it (rerun) or pass --force to compare anyway");
    }
  }
  auto sha_of = [](const LoadedRun& r) {
    return r.manifest.is_object() ? r.manifest.value("dataset", json::object()).value("sha256", "")
                                  : std::string();
  };
  auto command_of = [](const LoadedRun& r) {
    return r.manifest.is_object() ? r.manifest.value("command", "") : std::string();
  };
  // `evaluate score` runs hold their predictions in the dataset file, so only two `evaluate
  // run` folders are expected to share it.
  if (command_of(a) == "run" && command_of(b) == "run" && sha_of(a) != sha_of(b)) {
    log::warn(
        "the runs generated answers for different dataset files; pairing by sample id "
        "assumes the same questions and references",
        {{"a", a.dir.string()}, {"b", b.dir.string()}});
  }
}

using Pairs = std::vector<std::pair<size_t, size_t>>;  // (row in A, row in B)

// The samples both runs scored, paired by id, in A's order.
Pairs pair_samples(const LoadedRun& a, const LoadedRun& b) {
  Pairs pairs;
  for (size_t i = 0; i < a.rows.size(); ++i) {
    auto it = b.index.find(a.rows[i]["id"].get<std::string>());
    if (it != b.index.end()) pairs.emplace_back(i, it->second);
  }
  if (pairs.empty()) {
    auto first = [](const LoadedRun& r) {
      return r.rows.empty() ? std::string("none") : "'" + r.rows[0]["id"].get<std::string>() + "'";
    };
    throw_invalid("the runs share no sample id: " + a.dir.string() + " has " +
                  std::to_string(a.rows.size()) + " (first " + first(a) + "), " + b.dir.string() +
                  " has " + std::to_string(b.rows.size()) + " (first " + first(b) + ")");
  }
  if (pairs.size() != a.rows.size() || pairs.size() != b.rows.size()) {
    log::warn("the runs have different sample sets; comparing the samples they share",
              {{"shared", pairs.size()},
               {"only_a", a.rows.size() - pairs.size()},
               {"only_b", b.rows.size() - pairs.size()}});
  }
  return pairs;
}

// What to compare: per-sample metrics, judge criteria and corpus metrics.
struct Selection {
  std::set<std::string> metric, judge, corpus;
};

std::set<std::string> corpus_keys(const LoadedRun& r) {
  std::set<std::string> out;
  if (r.summary.is_object() && r.summary.contains("corpus") && r.summary["corpus"].is_object()) {
    for (auto it = r.summary["corpus"].begin(); it != r.summary["corpus"].end(); ++it) {
      if (scoring::find_corpus_family(it.key())) out.insert(it.key());
    }
  }
  return out;
}

// What both runs have, narrowed to `requested` (-m) when it is not empty.
Selection select_metrics(const LoadedRun& a, const LoadedRun& b,
                         const std::vector<std::string>& requested) {
  Selection both{intersect(names_in(a, "metrics"), names_in(b, "metrics")),
                 intersect(names_in(a, "judges"), names_in(b, "judges")),
                 intersect(corpus_keys(a), corpus_keys(b))};
  if (requested.empty()) return both;
  Selection want;
  std::vector<std::string> available(both.metric.begin(), both.metric.end());
  for (const auto& j : both.judge) available.push_back("judge." + j);
  for (const auto& c : both.corpus) available.push_back("corpus." + c);
  for (const auto& m : requested) {
    auto take = [&](const std::set<std::string>& from, std::set<std::string>& into,
                    const std::string& name) {
      if (!from.count(name)) {
        std::string list;
        for (const auto& s : available) list += (list.empty() ? "" : ", ") + s;
        throw_invalid("--metrics: '" + m + "' is not in both runs" + did_you_mean(m, available) +
                      " (both have: " + (list.empty() ? std::string("nothing") : list) + ")");
      }
      into.insert(name);
    };
    if (m == "judge") {
      want.judge = both.judge;
    } else if (m == "corpus") {
      want.corpus = both.corpus;
    } else if (m.rfind("judge.", 0) == 0) {
      take(both.judge, want.judge, m.substr(6));
    } else if (m.rfind("corpus.", 0) == 0) {
      take(both.corpus, want.corpus, m.substr(7));
    } else {
      take(both.metric, want.metric, m);
    }
  }
  return want;
}

// Paired bootstrap of each per-sample metric and judge criterion, into `metrics`.
void compare_means(const LoadedRun& a, const LoadedRun& b, const Pairs& pairs, const Selection& sel,
                   const scoring::BootstrapDraws& draws, json& metrics) {
  auto paired_mean = [&](auto value_of, const std::string& name, const std::string& key) {
    std::vector<double> va, vb;
    va.reserve(pairs.size());
    vb.reserve(pairs.size());
    for (auto [ia, ib] : pairs) {
      va.push_back(value_of(a.rows[ia], name));
      vb.push_back(value_of(b.rows[ib], name));
    }
    scoring::PairedComparison c = scoring::paired_bootstrap_mean(vb, va, draws);
    if (c.n == 0) {
      log::warn("no sample has this metric in both runs; left out", {{"metric", key}});
      return;
    }
    metrics[key] = entry(c);
  };
  for (const auto& m : sel.metric) paired_mean(metric_value, m, m);
  for (const auto& j : sel.judge) paired_mean(judge_value, j, "judge." + j);
}

// Paired bootstrap of each corpus metric, recomputed from the texts, into `metrics`.
void compare_corpus(const LoadedRun& a, const LoadedRun& b, const Pairs& pairs,
                    const std::set<std::string>& names, const scoring::BootstrapDraws& draws,
                    json& metrics) {
  if (names.empty()) return;
  std::string why_a, why_b;
  auto ta = load_texts(a, why_a);
  auto tb = load_texts(b, why_b);
  if (!ta || !tb) {
    log::warn("corpus metrics are left out: the answers and references cannot be read back",
              {{"reason", ta ? why_b : why_a}});
    return;
  }
  for (const auto& name : names) {
    const scoring::MetricFamily& family = *scoring::find_corpus_family(name);
    // The column whose presence marks a sample as scored for this metric: the family's first.
    const std::string& column = family.columns.front().name;
    std::vector<std::pair<const TextPair*, const TextPair*>> texts(pairs.size());
    for (size_t p = 0; p < pairs.size(); ++p) {
      const json& ra = a.rows[pairs[p].first];
      const json& rb = b.rows[pairs[p].second];
      if (!ra.value("metrics", json::object()).contains(column) ||
          !rb.value("metrics", json::object()).contains(column)) {
        continue;
      }
      auto pa = ta->find(ra["id"].get<std::string>());
      auto pb = tb->find(rb["id"].get<std::string>());
      if (pa == ta->end() || pb == tb->end()) continue;
      texts[p] = {&pa->second, &pb->second};
    }
    json e = corpus_entry(family, texts, draws);
    if (e.is_null()) {
      log::warn("no paired sample for this corpus metric; left out", {{"metric", name}});
    } else {
      metrics["corpus." + name] = e;
    }
  }
}

}  // namespace

json compare_runs(const CompareOptions& opt) {
  LoadedRun a = load_run(opt.run_a);
  LoadedRun b = load_run(opt.run_b);
  check_runs(a, b, opt.force);
  const Pairs pairs = pair_samples(a, b);
  const Selection sel = select_metrics(a, b, opt.metrics);
  // One set of draws over the paired samples: every metric, judge and corpus metric is compared
  // over the same resamples.
  const scoring::BootstrapDraws draws = scoring::make_bootstrap_draws(pairs.size(), opt.bootstrap);
  json metrics = json::object();
  compare_means(a, b, pairs, sel, draws, metrics);
  compare_corpus(a, b, pairs, sel.corpus, draws, metrics);
  return {
      {"schema_version", kCompareSchema},
      {"kind", "compare"},
      {"a",
       {{"name", opt.name_a.empty() ? label_of(opt.run_a) : opt.name_a}, {"path", a.dir.string()}}},
      {"b",
       {{"name", opt.name_b.empty() ? label_of(opt.run_b) : opt.name_b}, {"path", b.dir.string()}}},
      {"n_paired", pairs.size()},
      {"resamples", opt.bootstrap.resamples},
      {"seed", opt.bootstrap.seed},
      {"metrics", metrics}};
}

void print_comparison(const json& c, std::ostream& out) {
  const json& metrics = c.value("metrics", json::object());
  out << "\nA = " << c["a"].value("name", "") << " (" << c["a"].value("path", "")
      << ")\nB = " << c["b"].value("name", "") << " (" << c["b"].value("path", "") << ")\n"
      << c.value("n_paired", 0) << " paired samples; paired bootstrap, " << c.value("resamples", 0)
      << " resamples, seed " << c.value("seed", 0) << "\n";
  size_t width = 6;
  for (auto it = metrics.begin(); it != metrics.end(); ++it)
    width = std::max(width, it.key().size());
  auto pad = [](std::string s, size_t w) {
    s.resize(std::max(s.size(), w), ' ');
    return s;
  };
  out << pad("metric", width) << "  " << pad("A", 9) << "  " << pad("B", 9) << "  " << pad("A-B", 9)
      << "  " << pad("CI of A-B", 21) << "  " << pad("p", 7) << "  n\n";
  for (auto it = metrics.begin(); it != metrics.end(); ++it) {
    const json& m = it.value();
    auto num = [&](const char* k) { return m[k].is_number() ? m[k].get<double>() : kNaN; };
    out << pad(it.key(), width) << "  " << pad(fmt(num("a")), 9) << "  " << pad(fmt(num("b")), 9)
        << "  " << pad(fmt(num("diff"), "%+.4f"), 9) << "  "
        << pad("[" + fmt(num("ci_low"), "%+.4f") + ", " + fmt(num("ci_high"), "%+.4f") + "]", 21)
        << "  " << pad(fmt(num("p_value")), 7) << "  " << m.value("n", 0) << "\n";
  }
}

}  // namespace assay::eval
