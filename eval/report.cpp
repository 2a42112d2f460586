#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "eval/dataset.h"
#include "eval/report_charts.h"
#include "scoring/metric_registry.h"

namespace assay::eval {
namespace fs = std::filesystem;
using charts::format_number;
using charts::html_escape;
using nlohmann::json;

namespace {

// Longest answer / rationale shown in a table cell, in bytes (cut at a UTF-8 boundary).
constexpr size_t kCellChars = 600;

// Metrics ranked for the worst-samples table when no judge ran, best first.
const char* const kPrimaryMetrics[] = {
    "squad_f1", "rougeL_f", "rougeLsum_f", "rougeL_f_stem", "rouge1_f",         "sentence_bleu",
    "chrf",     "chrf_pp",  "squad_em",    "exact_match",   "quasi_exact_match"};
// Metrics where lower is better (the metric registry's direction; judge criteria: higher).
bool lower_is_better(std::string_view metric) {
  return !scoring::higher_is_better(metric);
}

std::optional<double> num_at(const json& obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return std::nullopt;
  double v = it->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

std::string str_at(const json& obj, std::string_view key, std::string fallback = "") {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return fallback;
}

const json& obj_at(const json& obj, std::string_view key) {
  static const json kEmpty = json::object();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence; appends "…" when cut.
std::string truncate_utf8(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end) + "\u2026";
}

json read_json_file(const fs::path& p) {
  std::string text = read_file(p);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw_invalid(p.string() + ": not valid JSON (" + e.what() + ")");
  }
}

// ---- ranking the worst samples -------------------------------------------------------------

std::string primary_metric(const json& summary) {
  const json& metrics = obj_at(summary, "metrics");
  for (const char* m : kPrimaryMetrics) {
    if (metrics.contains(m)) return m;
  }
  return metrics.empty() ? std::string() : metrics.begin().key();
}

// The sample's judge score in [0, 1] (mean over criteria, each scaled by its rubric range;
// pairwise: win 1, tie 0.5, loss 0), or nullopt when it has none.
std::optional<double> judge_goodness(const json& line, const json& summary) {
  const json& judges = obj_at(line, "judges");
  const json& ranges = obj_at(summary, "judges");
  double sum = 0;
  int n = 0;
  for (const auto& [name, entry] : judges.items()) {
    if (name == "pairwise") {
      std::string o = str_at(entry, "outcome");
      if (o == "win" || o == "tie" || o == "loss") {
        sum += o == "win" ? 1.0 : o == "tie" ? 0.5 : 0.0;
        ++n;
      }
      continue;
    }
    std::optional<double> score = num_at(entry, "score");
    if (!score) continue;
    std::optional<double> lo = num_at(obj_at(ranges, name), "min");
    std::optional<double> hi = num_at(obj_at(ranges, name), "max");
    sum += lo && hi && *hi > *lo ? (*score - *lo) / (*hi - *lo) : *score;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

std::optional<double> metric_goodness(const json& line, const std::string& metric) {
  if (metric.empty()) return std::nullopt;
  std::optional<double> v = num_at(obj_at(line, "metrics"), metric);
  if (!v) return std::nullopt;
  return lower_is_better(metric) ? -*v : *v;
}

// Indices into in.scores of the worst samples: by judge score when any sample has one, then by
// the primary metric, then by id (a stable, deterministic order).
std::vector<size_t> worst_samples(const std::vector<json>& scores, const json& summary) {
  std::string metric = primary_metric(summary);
  struct Key {
    size_t idx;
    std::optional<double> judge, metric;
    std::string id;
  };
  std::vector<Key> keys;
  bool any_judge = false;
  for (size_t i = 0; i < scores.size(); ++i) {
    Key k{i, judge_goodness(scores[i], summary), metric_goodness(scores[i], metric),
          str_at(scores[i], "id")};
    any_judge = any_judge || k.judge.has_value();
    keys.push_back(std::move(k));
  }
  std::erase_if(keys, [&](const Key& k) { return any_judge ? !k.judge : !k.metric; });
  auto missing_last = [](const std::optional<double>& v) {
    return v ? *v : std::numeric_limits<double>::infinity();
  };
  std::sort(keys.begin(), keys.end(), [&](const Key& a, const Key& b) {
    if (any_judge && *a.judge != *b.judge) return *a.judge < *b.judge;
    double am = missing_last(a.metric), bm = missing_last(b.metric);
    if (am != bm) return am < bm;
    return a.id < b.id;
  });
  std::vector<size_t> out;
  for (size_t i = 0; i < keys.size() && i < kReportWorstSamples; ++i) out.push_back(keys[i].idx);
  return out;
}

// ---- shared pieces of both renderers -------------------------------------------------------

std::string ci_label(const json& summary) {
  std::optional<double> c = num_at(obj_at(summary, "bootstrap"), "confidence");
  double pct = c ? *c * 100 : 95;
  return format_number(pct) + "% CI";
}

std::string interval_text(std::optional<double> lo, std::optional<double> hi) {
  if (!lo || !hi) return "n/a";
  return "[" + format_number(lo) + ", " + format_number(hi) + "]";
}

// Distribution bars of one judge criterion, in score order ("1", "2", ..., or win/tie/loss).
std::vector<charts::Bar> distribution_bars(const json& entry) {
  std::vector<charts::Bar> bars;
  const json& dist = obj_at(entry, "distribution");
  std::vector<std::pair<std::string, double>> items;
  for (const auto& [k, v] : dist.items()) {
    if (v.is_number()) items.emplace_back(k, v.get<double>());
  }
  bool numeric = std::all_of(items.begin(), items.end(), [](const auto& p) {
    return !p.first.empty() && p.first.find_first_not_of("-0123456789.") == std::string::npos;
  });
  if (numeric) {
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return std::stod(a.first) < std::stod(b.first); });
  } else {
    static const std::map<std::string, int> kOrder = {{"win", 0}, {"tie", 1}, {"loss", 2}};
    std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
      auto ra = kOrder.count(a.first) ? kOrder.at(a.first) : 9;
      auto rb = kOrder.count(b.first) ? kOrder.at(b.first) : 9;
      return ra < rb;
    });
  }
  for (auto& [k, v] : items) bars.push_back({k, v});
  return bars;
}

std::string distribution_text(const json& entry) {
  std::string out;
  for (const auto& b : distribution_bars(entry)) {
    if (!out.empty()) out += ", ";
    out += b.label + ": " + format_number(b.value);
  }
  return out;
}

// "accuracy 1/3, style 2/3" (or the pairwise outcome) for one sample.
std::string judge_scores_text(const json& line, const json& summary) {
  if (line.contains("judge_error")) return "error: " + str_at(line["judge_error"], "kind");
  std::string out;
  for (const auto& [name, entry] : obj_at(line, "judges").items()) {
    if (!out.empty()) out += ", ";
    if (name == "pairwise") {
      out += "pairwise " + str_at(entry, "outcome");
      continue;
    }
    out += name + " " + format_number(num_at(entry, "score"));
    std::optional<double> hi = num_at(obj_at(obj_at(summary, "judges"), name), "max");
    if (hi) out += "/" + format_number(hi);
  }
  return out;
}

// Each criterion's rationale, "criterion: analysis", one per entry.
std::vector<std::string> rationales(const json& line) {
  std::vector<std::string> out;
  for (const auto& [name, entry] : obj_at(line, "judges").items()) {
    std::string a = str_at(entry, "analysis");
    if (!a.empty()) out.push_back(name + ": " + a);
  }
  if (line.contains("judge_error")) out.push_back(str_at(line["judge_error"], "reason"));
  return out;
}

// The answer shown for a sample: its generation, else the dataset's prediction (evaluate score).
std::string answer_of(const ReportInputs& in, const json& line) {
  std::string id = str_at(line, "id");
  if (auto it = in.generations.find(id); it != in.generations.end()) {
    return str_at(it->second, "output");
  }
  auto it = in.dataset_rows.find(id);
  return it == in.dataset_rows.end() ? "" : str_at(it->second, "prediction");
}

std::string dataset_field(const ReportInputs& in, const json& line, const char* field) {
  auto it = in.dataset_rows.find(str_at(line, "id"));
  return it == in.dataset_rows.end() ? "" : str_at(it->second, field);
}

// Which optional columns the worst-samples table has.
struct WorstColumns {
  bool question = false, reference = false, answer = false;
};

WorstColumns worst_columns(const ReportInputs& in, const std::vector<size_t>& worst) {
  WorstColumns c;
  for (size_t i : worst) {
    const json& line = in.scores[i];
    c.question = c.question || !dataset_field(in, line, "question").empty();
    c.reference = c.reference || !dataset_field(in, line, "reference").empty();
    c.answer = c.answer || !answer_of(in, line).empty();
  }
  return c;
}

// Fills in.dataset_rows for `wanted` from the dataset named in the manifest. Best effort: a
// dataset that moved, changed or no longer parses leaves the rows empty.
void read_dataset_rows(ReportInputs& in, const std::set<std::string>& wanted) {
  const json& ds = obj_at(in.manifest, "dataset");
  std::string path = str_at(ds, "path"), sha = str_at(ds, "sha256");
  std::error_code ec;
  if (wanted.empty() || path.empty() || sha.empty() || !fs::is_regular_file(path, ec)) return;
  const json& cf = obj_at(obj_at(in.manifest, "config"), "fields");
  DatasetFields fields;
  fields.id = str_at(cf, "id", fields.id);
  fields.instruction = str_at(cf, "instruction", fields.instruction);
  fields.input = str_at(cf, "input", fields.input);
  fields.reference = str_at(cf, "reference", fields.reference);
  fields.prediction = str_at(cf, "prediction", fields.prediction);
  DatasetNeeds needs;
  needs.reference = false;
  try {
    Dataset d = load_dataset(path, fields, needs);
    if (d.sha256 != sha) return;
    for (const Sample& s : d.samples) {
      if (!wanted.count(s.id)) continue;
      in.dataset_rows[s.id] = {
          {"question", s.input.empty() ? s.instruction : s.instruction + "\n\n" + s.input},
          {"reference", s.reference},
          {"prediction", s.prediction.value_or("")}};
    }
  } catch (const std::exception&) {
  }
}

std::string model_text(const json& manifest) {
  const json& model = obj_at(manifest, "model");
  std::string path = str_at(model, "path");
  if (path.empty()) return "";
  std::string fp = str_at(model, "fingerprint");
  return path + (fp.empty() ? "" : " (fingerprint " + fp.substr(0, 12) + ")");
}

std::string dataset_text(const ReportInputs& in) {
  const json& ds = obj_at(in.manifest, "dataset");
  std::string path = str_at(ds, "path");
  std::optional<double> n = num_at(in.summary, "n_samples");
  if (!n) n = num_at(ds, "n_samples");
  std::string out = path;
  if (n) out += (out.empty() ? "" : ", ") + format_number(n) + " samples";
  std::string sha = str_at(ds, "sha256");
  if (!sha.empty()) out += " (sha256 " + sha.substr(0, 12) + ")";
  return out;
}

std::string judge_text(const json& summary) {
  const json& u = obj_at(summary, "judge_usage");
  if (u.empty()) return "";
  std::string out =
      str_at(u, "provider") + " / " + str_at(u, "model") + " / rubric " + str_at(u, "rubric");
  if (u.value("dummy", false)) out += " (dummy judge: deterministic placeholder scores)";
  return out;
}

// The warning at the top of a report whose samples have judge errors, or "" when none do.
std::string judge_error_warning(const ReportInputs& in) {
  size_t n_err = 0;
  for (const auto& line : in.scores) n_err += line.contains("judge_error") ? 1 : 0;
  if (n_err == 0) return "";
  char share[16];
  std::snprintf(share, sizeof share, "%.1f",
                100.0 * static_cast<double>(n_err) / static_cast<double>(in.scores.size()));
  return "Warning: " + std::to_string(n_err) + " of " + std::to_string(in.scores.size()) +
         " samples (" + share +
         "%) have no judgment (judge errors, listed at the end). Their judge means leave them "
         "out; rerunning the same command retries the transient ones.";
}

std::string usage_text(const json& summary) {
  const json& u = obj_at(summary, "judge_usage");
  std::string out = format_number(num_at(u, "calls")) + " calls, " +
                    format_number(num_at(u, "cache_hits")) + " cache hits, " +
                    format_number(num_at(u, "retries")) + " retries, " +
                    format_number(num_at(u, "prompt_tokens")) + " prompt + " +
                    format_number(num_at(u, "completion_tokens")) + " completion tokens";
  std::optional<double> cost = num_at(u, "cost_usd");
  out += cost ? ", $" + format_number(cost) : ", cost unknown";
  return out;
}

// The run's header facts as (label, value) pairs; empty values are left out.
std::vector<std::pair<std::string, std::string>> header_facts(const ReportInputs& in) {
  std::vector<std::pair<std::string, std::string>> f;
  auto add = [&](std::string k, std::string v) {
    if (!v.empty()) f.emplace_back(std::move(k), std::move(v));
  };
  std::string command = str_at(in.manifest, "command", str_at(in.summary, "command"));
  add("command", command.empty() ? "" : "evaluate " + command);
  std::string status = str_at(in.manifest, "status");
  if (status != "running") add("status", status);  // "running" while the scores are written
  add("model", model_text(in.manifest));
  add("dataset", dataset_text(in));
  add("judge", judge_text(in.summary));
  add("config hash", str_at(in.manifest, "config_hash").substr(0, 16));
  add("assay version", str_at(obj_at(in.manifest, "versions"), "assay"));
  add("started", str_at(obj_at(in.manifest, "timings"), "started_at"));
  add("finished", str_at(obj_at(in.manifest, "timings"), "finished_at"));
  return f;
}

// ---- compare.json --------------------------------------------------------------------------

struct CompareRow {
  std::string metric;
  std::optional<double> a, b, diff, lo, hi, p, n;
};

std::vector<CompareRow> compare_rows(const json& compare) {
  std::vector<CompareRow> rows;
  for (const auto& [k, m] : obj_at(compare, "metrics").items()) {
    rows.push_back({k, num_at(m, "a"), num_at(m, "b"), num_at(m, "diff"), num_at(m, "ci_low"),
                    num_at(m, "ci_high"), num_at(m, "p_value"), num_at(m, "n")});
  }
  return rows;
}

bool ci_excludes_zero(const CompareRow& r) {
  return r.lo && r.hi && (*r.lo > 0 || *r.hi < 0);
}

std::string side_name(const json& compare, const char* side) {
  std::string name = str_at(obj_at(compare, side), "name");
  return name.empty() ? side : name;
}

// Compare metric groups drawn on one axis each: corpus metrics (0-100), judges, the rest.
std::string compare_group(const std::string& metric) {
  if (metric.rfind("corpus.", 0) == 0) return "corpus metrics";
  if (metric.rfind("judge.", 0) == 0) return "judge scores";
  return "per-sample metrics";
}

// ---- Markdown ------------------------------------------------------------------------------

// Escapes text for a Markdown table cell: HTML specials, pipes, backticks; newlines -> spaces.
std::string md(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '|':
        out += "\\|";
        break;
      case '`':
        out += "\\`";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
      case '\r':
      case '\t':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string report_name(const fs::path& run_dir) {
  std::error_code ec;
  std::string name = fs::weakly_canonical(run_dir, ec).filename().string();
  return name.empty() ? run_dir.filename().string() : name;
}

std::vector<std::string> listed_sample_ids(const std::vector<json>& scores, const json& summary) {
  std::vector<std::string> ids;
  for (size_t i : worst_samples(scores, summary)) ids.push_back(str_at(scores[i], "id"));
  return ids;
}

ReportInputs read_report_inputs(const fs::path& run_dir) {
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) throw_not_found(run_dir.string() + ": no such run folder");
  ReportInputs in;
  in.name = report_name(run_dir);
  auto opt = [&](const char* file) {
    fs::path p = run_dir / file;
    return fs::exists(p, ec) ? read_json_file(p) : json();
  };
  in.manifest = opt("manifest.json");
  in.summary = opt("summary.json");
  in.compare = opt("compare.json");
  if (in.summary.is_null() && in.compare.is_null()) {
    throw_not_found(run_dir.string() +
                    ": neither summary.json nor compare.json: not a run or compare folder");
  }
  for (const char* f : {"manifest.json", "summary.json", "compare.json"}) {
    const json& j = std::string(f) == "manifest.json"  ? in.manifest
                    : std::string(f) == "summary.json" ? in.summary
                                                       : in.compare;
    if (!j.is_null() && !j.is_object()) {
      throw_invalid((run_dir / f).string() + ": expected a JSON object");
    }
  }
  if (fs::exists(run_dir / "scores.jsonl", ec)) {
    JsonlContents lines = read_jsonl(run_dir / "scores.jsonl", TornTail::kError);
    for (auto& r : lines.records) {
      if (!r.value.is_object() || !r.value.contains("id")) {
        throw_invalid((run_dir / "scores.jsonl").string() + ":" + std::to_string(r.line) +
                      ": expected an object with an `id`");
      }
      in.scores.push_back(std::move(r.value));
    }
  }
  // generations.jsonl can be large: keep only the lines of the samples the report shows.
  std::vector<std::string> listed = listed_sample_ids(in.scores, in.summary);
  std::set<std::string> wanted(listed.begin(), listed.end());
  read_dataset_rows(in, wanted);
  fs::path gen = run_dir / "generations.jsonl";
  if (!wanted.empty() && fs::exists(gen, ec)) {
    std::ifstream f(gen, std::ios::binary);
    if (!f) throw_io(gen.string() + ": cannot open");
    std::string line;
    while (std::getline(f, line) && in.generations.size() < wanted.size()) {
      json g = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!g.is_object()) continue;  // a torn last line of an interrupted run
      std::string id = str_at(g, "id");
      if (wanted.count(id)) in.generations[id] = std::move(g);
    }
  }
  return in;
}

// The reliability figures of each judge entry (eval/judge_reliability.h), as a table: the raw
// judge mean beside the PPI-calibrated mean, agreement with people, between judges and between
// repeats, and the length-controlled win rate. Only columns some entry has are kept; empty when
// the run has no such figure.
struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
TextTable reliability_table(const json& summary) {
  const json& judges = obj_at(summary, "judges");
  const std::string ci = ci_label(summary);
  struct Column {
    std::string title;
    std::function<std::string(const json&)> cell;
    std::string needs;  // the field whose presence shows the column
  };
  auto number = [](const char* f) {
    return [f](const json& m) { return format_number(num_at(m, f)); };
  };
  const std::vector<Column> columns = {
      {"judge mean", number("mean"), "calibrated_mean"},
      {"calibrated mean (PPI)", number("calibrated_mean"), "calibrated_mean"},
      {"calibrated " + ci,
       [](const json& m) {
         return interval_text(num_at(m, "calibrated_ci_low"), num_at(m, "calibrated_ci_high"));
       },
       "calibrated_mean"},
      {"human labels", number("n_labelled"), "n_labelled"},
      {"judge-human kappa", number("human_kappa"), "human_kappa"},
      {"judges kappa", number("kappa"), "kappa"},
      {"judges alpha", number("alpha"), "alpha"},
      {"repeat agreement", number("agreement"), "agreement"},
      {"flip rate", number("flip_rate"), "flip_rate"},
      {"repeat sd", number("repeat_sd"), "repeat_sd"},
      {"win rate (tie = 1/2)", number("mean"), "lc_win_rate"},
      {"LC win rate", number("lc_win_rate"), "lc_win_rate"},
      {"LC " + ci,
       [](const json& m) { return interval_text(num_at(m, "lc_ci_low"), num_at(m, "lc_ci_high")); },
       "lc_win_rate"},
  };
  std::vector<const Column*> shown;
  for (const auto& c : columns) {
    for (const auto& [k, m] : judges.items()) {
      if (m.is_object() && m.contains(c.needs)) {
        shown.push_back(&c);
        break;
      }
    }
  }
  TextTable t;
  if (shown.empty()) return t;
  t.header.push_back("criterion");
  for (const Column* c : shown) t.header.push_back(c->title);
  for (const auto& [k, m] : judges.items()) {
    std::vector<std::string> row = {k};
    for (const Column* c : shown) row.push_back(c->cell(m));
    t.rows.push_back(std::move(row));
  }
  return t;
}

// One line naming the judges and how they were combined, for the reliability section.
std::string reliability_note(const json& summary) {
  const json& r = obj_at(summary, "judge_reliability");
  std::string o;
  const json& names = r.value("judges", json::array());
  if (names.size() > 1) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n.get<std::string>();
    o += std::to_string(names.size()) + " judges (" + list + "), combined by " +
         str_at(r, "combine", "mean") + "; the repeat figures are the least consistent judge's. ";
  }
  if (num_at(r, "repeats").value_or(1) > 1) {
    o += "Each question asked " + format_number(num_at(r, "repeats")) + " times. ";
  }
  if (r.contains("calibration")) {
    o += "Human labels: " + str_at(obj_at(r, "calibration"), "file") +
         "; the calibrated mean is prediction-powered inference (judge mean over all samples + "
         "mean human-minus-judge difference on the labelled ones). ";
  }
  while (!o.empty() && o.back() == ' ') o.pop_back();
  return o;
}

std::string render_report_markdown(const ReportInputs& in) {
  std::string o = "# Assay report: " + md(in.name) + "\n\n";
  auto facts = header_facts(in);
  if (!facts.empty()) {
    o += "| | |\n| --- | --- |\n";
    for (const auto& [k, v] : facts) o += "| " + md(k) + " | " + md(v) + " |\n";
    o += "\n";
  }
  if (std::string warn = judge_error_warning(in); !warn.empty()) o += "> " + md(warn) + "\n\n";
  const json& s = in.summary;
  const std::string ci = ci_label(s);
  const json& metrics = obj_at(s, "metrics");
  if (!metrics.empty()) {
    o += "## Metrics\n\nMean over samples with a percentile-bootstrap " + ci + ".\n\n";
    o += "| metric | mean | " + ci + " | n |\n| --- | ---: | --- | ---: |\n";
    for (const auto& [k, m] : metrics.items()) {
      o += "| " + md(k) + " | " + format_number(num_at(m, "mean")) + " | " +
           interval_text(num_at(m, "ci_low"), num_at(m, "ci_high")) + " | " +
           format_number(num_at(m, "n")) + " |\n";
    }
    o += "\n";
  }
  const json& corpus = obj_at(s, "corpus");
  if (!corpus.empty()) {
    o += "## Corpus metrics\n\n| metric | score | " + ci + " |\n| --- | ---: | --- |\n";
    for (const auto& [k, m] : corpus.items()) {
      o += "| " + md(k) + " | " + format_number(num_at(m, "score")) + " | " +
           interval_text(num_at(m, "ci_low"), num_at(m, "ci_high")) + " |\n";
    }
    o += "\n";
  }
  const json& judges = obj_at(s, "judges");
  if (!judges.empty()) {
    o += "## Judges\n\n" + md(judge_text(s)) + "; " + md(usage_text(s)) + ".\n\n";
    o += "| criterion | mean | " + ci +
         " | n | errors | distribution |\n| --- | ---: | --- | ---: | ---: | --- |\n";
    for (const auto& [k, m] : judges.items()) {
      o += "| " + md(k) + " | " + format_number(num_at(m, "mean")) + " | " +
           interval_text(num_at(m, "ci_low"), num_at(m, "ci_high")) + " | " +
           format_number(num_at(m, "n")) + " | " + format_number(num_at(m, "n_errors")) + " | " +
           md(distribution_text(m)) + " |\n";
    }
    o += "\n";
    const TextTable rel = reliability_table(s);
    if (!rel.rows.empty()) {
      o += "### Judge reliability\n\n" + md(reliability_note(s)) + "\n\n|";
      std::string rule = "|";
      for (const auto& h : rel.header) {
        o += " " + md(h) + " |";
        rule += " --- |";
      }
      o += "\n" + rule + "\n";
      for (const auto& row : rel.rows) {
        o += "|";
        for (const auto& cell : row) o += " " + md(cell) + " |";
        o += "\n";
      }
      o += "\n";
    }
  }
  const json& gen = obj_at(s, "generation");
  if (!gen.empty()) {
    o += "## Generation\n\n" + format_number(num_at(gen, "prompt_tokens")) + " prompt tokens, " +
         format_number(num_at(gen, "completion_tokens")) + " completion tokens; finish reasons: ";
    std::string fr;
    for (const auto& [k, v] : obj_at(gen, "finish_reasons").items()) {
      fr += (fr.empty() ? "" : ", ") + md(k) + " " + (v.is_number() ? v.dump() : "?");
    }
    o += (fr.empty() ? "none" : fr) + ".\n\n";
  }
  if (!in.compare.is_null()) {
    const json& c = in.compare;
    o += "## Comparison: " + md(side_name(c, "a")) + " vs " + md(side_name(c, "b")) + "\n\n";
    o += "Paired over " + format_number(num_at(c, "n_paired")) +
         " samples; differences are A − B "
         "with a paired-bootstrap " +
         format_number(num_at(c, "resamples")) + "-resample CI.\n\n";
    o += "| metric | " + md(side_name(c, "a")) + " | " + md(side_name(c, "b")) +
         " | A − B | CI | p | n |\n| --- | ---: | ---: | ---: | --- | ---: | ---: |\n";
    for (const auto& r : compare_rows(c)) {
      o += "| " + md(r.metric) + " | " + format_number(r.a) + " | " + format_number(r.b) + " | " +
           format_number(r.diff) + (ci_excludes_zero(r) ? " *" : "") + " | " +
           interval_text(r.lo, r.hi) + " | " + format_number(r.p) + " | " + format_number(r.n) +
           " |\n";
    }
    o += "\n\\* the CI excludes 0.\n\n";
  }
  std::vector<size_t> worst = worst_samples(in.scores, s);
  if (!worst.empty()) {
    std::string metric = primary_metric(s);
    const WorstColumns cols = worst_columns(in, worst);
    o += "## Worst samples\n\nThe " + std::to_string(worst.size()) +
         " lowest-scoring samples (by judge score, then " + md(metric.empty() ? "-" : metric) +
         ").\n\n| # | id | judge | " + md(metric.empty() ? "metric" : metric) +
         (cols.question ? " | question" : "") + (cols.reference ? " | reference" : "") +
         (cols.answer ? " | answer" : "") + " | judge rationale |\n| ---: | --- | --- | ---: |" +
         (cols.question ? " --- |" : "") + (cols.reference ? " --- |" : "") +
         (cols.answer ? " --- |" : "") + " --- |\n";
    for (size_t r = 0; r < worst.size(); ++r) {
      const json& line = in.scores[worst[r]];
      std::string why;
      for (const auto& x : rationales(line)) why += (why.empty() ? "" : " / ") + x;
      o += "| " + std::to_string(r + 1) + " | " + md(str_at(line, "id")) + " | " +
           md(judge_scores_text(line, s)) + " | " +
           format_number(num_at(obj_at(line, "metrics"), metric)) + " | " +
           (cols.question
                ? md(truncate_utf8(dataset_field(in, line, "question"), kCellChars)) + " | "
                : "") +
           (cols.reference
                ? md(truncate_utf8(dataset_field(in, line, "reference"), kCellChars)) + " | "
                : "") +
           (cols.answer ? md(truncate_utf8(answer_of(in, line), kCellChars)) + " | " : "") +
           md(truncate_utf8(why, kCellChars)) + " |\n";
    }
    o += "\n";
  }
  size_t n_err = 0;
  std::string err_rows;
  for (const auto& line : in.scores) {
    if (!line.contains("judge_error")) continue;
    if (++n_err > kReportJudgeErrors) continue;
    const json& e = line["judge_error"];
    err_rows += "| " + md(str_at(line, "id")) + " | " + md(str_at(e, "kind")) + " | " +
                md(truncate_utf8(str_at(e, "reason"), kCellChars)) + " |\n";
  }
  if (n_err > 0) {
    o += "## Judge errors\n\n" + std::to_string(n_err) + " samples have no judgment" +
         (n_err > kReportJudgeErrors ? " (first " + std::to_string(kReportJudgeErrors) + " shown)"
                                     : std::string()) +
         ".\n\n| id | kind | reason |\n| --- | --- | --- |\n" + err_rows + "\n";
  }
  return o;
}

namespace {

const char* const kCss = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#1d2330;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #dde;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #dde;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f3f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.text{white-space:pre-wrap;max-width:420px;overflow-wrap:anywhere}
.facts th{background:none;font-weight:600}.note{color:#556}.warn{color:#8a5a00}
figure.chart{display:inline-block;margin:8px 16px 8px 0}figcaption{font-size:12px;color:#556;text-align:center}
svg.chart text{font-size:11px;fill:#333}svg.chart text.value{fill:#555}svg.chart text.muted{fill:#999}
svg.chart .axis{stroke:#888}svg.chart .grid{stroke:#eee}svg.chart .zero{stroke:#c33;stroke-dasharray:4 3}
svg.chart rect.bar{fill:#4c78a8}svg.chart .whisker{stroke:#4c78a8;stroke-width:2}
svg.chart circle.point{fill:#4c78a8}svg.chart .hl{stroke:#d1495b;fill:#d1495b}
)css";

std::string td(const std::string& s, const char* cls = nullptr) {
  return std::string("<td") + (cls ? std::string(" class=\"") + cls + "\"" : "") + ">" +
         html_escape(s) + "</td>";
}

// Histogram of the primary metric over samples, 10 bins over [0, 1] (only for 0-1 metrics).
std::string metric_histogram(const ReportInputs& in, const std::string& metric) {
  if (metric.empty()) return "";
  std::vector<double> v;
  for (const auto& line : in.scores) {
    if (auto x = num_at(obj_at(line, "metrics"), metric)) {
      if (*x < 0 || *x > 1) return "";
      v.push_back(*x);
    }
  }
  if (v.empty()) return "";
  std::vector<charts::Bar> bars(10);
  for (int b = 0; b < 10; ++b) {
    bars[b].label = format_number(b / 10.0) + "\u2013" + format_number((b + 1) / 10.0);
  }
  for (double x : v) bars[std::min(9, static_cast<int>(x * 10))].value += 1;
  return charts::bar_chart_svg(metric + ": samples per score bin", bars);
}

}  // namespace

namespace {

// The page head, title and facts table.
std::string html_head(const ReportInputs& in) {
  const json& s = in.summary;
  std::string o =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Assay "
      "report: " +
      html_escape(in.name) + "</title>\n<style>" + kCss + "</style></head>\n<body>\n";
  o += "<h1>Assay report: " + html_escape(in.name) + "</h1>\n";
  auto facts = header_facts(in);
  if (!facts.empty()) {
    o += "<table class=\"facts\">";
    for (const auto& [k, v] : facts) {
      o += "<tr><th>" + html_escape(k) + "</th>" + td(v) + "</tr>";
    }
    o += "</table>\n";
  }
  if (std::string warn = judge_error_warning(in); !warn.empty()) {
    o += "<p class=\"warn\">" + html_escape(warn) + "</p>\n";
  }
  if (obj_at(s, "judge_usage").value("dummy", false)) {
    o += "<p class=\"warn\">The judge is the offline dummy provider: its scores are "
         "deterministic placeholders, not a model's judgment.</p>\n";
  }

  return o;
}

// Per-sample metrics: interval charts, histogram and table.
std::string html_metrics(const ReportInputs& in) {
  std::string o;
  const json& s = in.summary;
  const std::string ci = ci_label(s);
  const json& metrics = obj_at(s, "metrics");
  if (!metrics.empty()) {
    o += "<h2 id=\"metrics\">Metrics</h2>\n<p class=\"note\">Mean over samples with a "
         "percentile-bootstrap " +
         html_escape(ci) + ".</p>\n";
    std::vector<charts::Interval> unit_rows;
    std::string other_charts;
    for (const auto& [k, m] : metrics.items()) {
      charts::Interval r{k, num_at(m, "mean"), num_at(m, "ci_low"), num_at(m, "ci_high"), false};
      bool unit = true;
      for (const auto& v : {r.value, r.lo, r.hi}) unit = unit && (!v || (*v >= 0 && *v <= 1));
      if (unit) {
        unit_rows.push_back(r);
      } else {
        other_charts += charts::interval_chart_svg(k + " (mean, " + ci + ")", {r});
      }
    }
    if (!unit_rows.empty()) {
      charts::IntervalChartOptions opt;
      opt.domain_lo = 0;
      opt.domain_hi = 1;
      o += charts::interval_chart_svg("Metrics (mean, " + ci + ")", unit_rows, opt);
    }
    o += other_charts;
    o += metric_histogram(in, primary_metric(s));
    o += "<table><tr><th>metric</th><th>mean</th><th>" + html_escape(ci) + "</th><th>n</th></tr>\n";
    for (const auto& [k, m] : metrics.items()) {
      o += "<tr>" + td(k) + td(format_number(num_at(m, "mean")), "n") +
           td(interval_text(num_at(m, "ci_low"), num_at(m, "ci_high")), "n") +
           td(format_number(num_at(m, "n")), "n") + "</tr>\n";
    }
    o += "</table>\n";
  }

  return o;
}

// Corpus metrics: chart and table.
std::string html_corpus(const ReportInputs& in) {
  std::string o;
  const json& s = in.summary;
  const std::string ci = ci_label(s);
  const json& corpus = obj_at(s, "corpus");
  if (!corpus.empty()) {
    o += "<h2 id=\"corpus\">Corpus metrics</h2>\n";
    std::vector<charts::Interval> rows;
    for (const auto& [k, m] : corpus.items()) {
      rows.push_back({k, num_at(m, "score"), num_at(m, "ci_low"), num_at(m, "ci_high"), false});
    }
    o += charts::interval_chart_svg("Corpus metrics (score, " + ci + ")", rows);
    o += "<table><tr><th>metric</th><th>score</th><th>" + html_escape(ci) + "</th></tr>\n";
    for (const auto& [k, m] : corpus.items()) {
      o += "<tr>" + td(k) + td(format_number(num_at(m, "score")), "n") +
           td(interval_text(num_at(m, "ci_low"), num_at(m, "ci_high")), "n") + "</tr>\n";
    }
    o += "</table>\n";
  }

  return o;
}

// Judge criteria: charts per score range, distributions and table.
std::string html_judges(const ReportInputs& in) {
  std::string o;
  const json& s = in.summary;
  const std::string ci = ci_label(s);
  const json& judges = obj_at(s, "judges");
  if (!judges.empty()) {
    o += "<h2 id=\"judges\">Judges</h2>\n<p class=\"note\">" + html_escape(judge_text(s)) + "; " +
         html_escape(usage_text(s)) + ".</p>\n";
    std::map<std::pair<double, double>, std::vector<charts::Interval>> by_range;
    for (const auto& [k, m] : judges.items()) {
      double lo = num_at(m, "min").value_or(0), hi = num_at(m, "max").value_or(1);
      by_range[{lo, hi}].push_back(
          {k, num_at(m, "mean"), num_at(m, "ci_low"), num_at(m, "ci_high"), false});
    }
    for (const auto& [range, rows] : by_range) {
      charts::IntervalChartOptions opt;
      opt.domain_lo = range.first;
      opt.domain_hi = range.second;
      o += charts::interval_chart_svg("Judge criteria (mean, " + ci + ")", rows, opt);
    }
    for (const auto& [k, m] : judges.items()) {
      o += charts::bar_chart_svg(k + ": score distribution", distribution_bars(m));
    }
    o += "<table><tr><th>criterion</th><th>mean</th><th>" + html_escape(ci) +
         "</th><th>n</th><th>errors</th><th>distribution</th></tr>\n";
    for (const auto& [k, m] : judges.items()) {
      o += "<tr>" + td(k) + td(format_number(num_at(m, "mean")), "n") +
           td(interval_text(num_at(m, "ci_low"), num_at(m, "ci_high")), "n") +
           td(format_number(num_at(m, "n")), "n") + td(format_number(num_at(m, "n_errors")), "n") +
           td(distribution_text(m)) + "</tr>\n";
    }
    o += "</table>\n";
    const TextTable rel = reliability_table(s);
    if (!rel.rows.empty()) {
      o += "<h3 id=\"judge-reliability\">Judge reliability</h3>\n<p class=\"note\">" +
           html_escape(reliability_note(s)) + "</p>\n<table id=\"reliability\"><tr>";
      for (const auto& h : rel.header) o += "<th>" + html_escape(h) + "</th>";
      o += "</tr>\n";
      for (const auto& row : rel.rows) {
        o += "<tr>" + td(row.front());
        for (size_t c = 1; c < row.size(); ++c) o += td(row[c], "n");
        o += "</tr>\n";
      }
      o += "</table>\n";
    }
  }

  return o;
}

// Generation: token counts and finish reasons.
std::string html_generation(const ReportInputs& in) {
  std::string o;
  const json& s = in.summary;
  const json& gen = obj_at(s, "generation");
  if (!gen.empty()) {
    std::string fr;
    for (const auto& [k, v] : obj_at(gen, "finish_reasons").items()) {
      fr += (fr.empty() ? "" : ", ") + k + " " + (v.is_number() ? v.dump() : "?");
    }
    o += "<h2 id=\"generation\">Generation</h2>\n<p>" +
         html_escape(format_number(num_at(gen, "prompt_tokens")) + " prompt tokens, " +
                     format_number(num_at(gen, "completion_tokens")) +
                     " completion tokens; finish reasons: " + (fr.empty() ? "none" : fr)) +
         ".</p>\n";
  }

  return o;
}

// The comparison with another run, when the folder holds compare.json.
std::string html_compare(const ReportInputs& in) {
  std::string o;
  if (!in.compare.is_null()) {
    const json& c = in.compare;
    std::string a = side_name(c, "a"), b = side_name(c, "b");
    o += "<h2 id=\"compare\">Comparison: " + html_escape(a) + " vs " + html_escape(b) +
         "</h2>\n<p class=\"note\">Paired over " + format_number(num_at(c, "n_paired")) +
         " samples; differences are A \u2212 B (" + html_escape(a) + " \u2212 " + html_escape(b) +
         ") with a paired-bootstrap CI (" + format_number(num_at(c, "resamples")) +
         " resamples); red: the CI excludes 0.</p>\n";
    std::vector<CompareRow> rows = compare_rows(c);
    std::map<std::string, std::vector<charts::Interval>> groups;
    for (const auto& r : rows) {
      groups[compare_group(r.metric)].push_back(
          {r.metric, r.diff, r.lo, r.hi, ci_excludes_zero(r)});
    }
    for (const auto& [g, intervals] : groups) {
      charts::IntervalChartOptions opt;
      opt.zero_line = true;
      opt.symmetric = true;
      o += charts::interval_chart_svg("Differences, " + g + " (A \u2212 B, CI)", intervals, opt);
    }
    o += "<table><tr><th>metric</th><th>" + html_escape(a) + "</th><th>" + html_escape(b) +
         "</th><th>A \u2212 B</th><th>CI</th><th>p</th><th>n</th></tr>\n";
    for (const auto& r : rows) {
      o += "<tr>" + td(r.metric) + td(format_number(r.a), "n") + td(format_number(r.b), "n") +
           td(format_number(r.diff) + (ci_excludes_zero(r) ? " *" : ""), "n") +
           td(interval_text(r.lo, r.hi), "n") + td(format_number(r.p), "n") +
           td(format_number(r.n), "n") + "</tr>\n";
    }
    o += "</table>\n";
  }

  return o;
}

// The lowest-scoring samples.
std::string html_worst(const ReportInputs& in) {
  std::string o;
  const json& s = in.summary;
  std::vector<size_t> worst = worst_samples(in.scores, s);
  if (!worst.empty()) {
    std::string metric = primary_metric(s);
    o += "<h2 id=\"worst\">Worst samples</h2>\n<p class=\"note\">The " +
         std::to_string(worst.size()) + " lowest-scoring samples (by judge score, then " +
         html_escape(metric.empty() ? "-" : metric) + ").</p>\n";
    const WorstColumns cols = worst_columns(in, worst);
    o += "<table class=\"worst\"><tr><th>#</th><th>id</th><th>judge</th><th>" +
         html_escape(metric.empty() ? "metric" : metric) + "</th>" +
         (cols.question ? "<th>question</th>" : "") + (cols.reference ? "<th>reference</th>" : "") +
         (cols.answer ? "<th>answer</th>" : "") + "<th>judge rationale</th></tr>\n";
    for (size_t r = 0; r < worst.size(); ++r) {
      const json& line = in.scores[worst[r]];
      std::string why;
      for (const auto& x : rationales(line)) why += (why.empty() ? "" : "\n") + x;
      o += "<tr>" + td(std::to_string(r + 1), "n") + td(str_at(line, "id")) +
           td(judge_scores_text(line, s)) +
           td(format_number(num_at(obj_at(line, "metrics"), metric)), "n") +
           (cols.question
                ? td(truncate_utf8(dataset_field(in, line, "question"), kCellChars), "text")
                : std::string()) +
           (cols.reference
                ? td(truncate_utf8(dataset_field(in, line, "reference"), kCellChars), "text")
                : std::string()) +
           (cols.answer ? td(truncate_utf8(answer_of(in, line), kCellChars), "text")
                        : std::string()) +
           td(truncate_utf8(why, kCellChars), "text") + "</tr>\n";
    }
    o += "</table>\n";
  }

  return o;
}

// Samples the judge could not judge.
std::string html_judge_errors(const ReportInputs& in) {
  std::string o;
  size_t n_err = 0;
  std::string err_rows;
  for (const auto& line : in.scores) {
    if (!line.contains("judge_error")) continue;
    if (++n_err > kReportJudgeErrors) continue;
    const json& e = line["judge_error"];
    err_rows += "<tr>" + td(str_at(line, "id")) + td(str_at(e, "kind")) +
                td(truncate_utf8(str_at(e, "reason"), kCellChars), "text") + "</tr>\n";
  }
  if (n_err > 0) {
    o += "<h2 id=\"judge-errors\">Judge errors</h2>\n<p>" + std::to_string(n_err) +
         " samples have no judgment" +
         (n_err > kReportJudgeErrors ? " (first " + std::to_string(kReportJudgeErrors) + " shown)"
                                     : std::string()) +
         ".</p>\n<table><tr><th>id</th><th>kind</th><th>reason</th></tr>\n" + err_rows +
         "</table>\n";
  }
  return o;
}

}  // namespace

std::string render_report_html(const ReportInputs& in) {
  return html_head(in) + html_metrics(in) + html_corpus(in) + html_judges(in) +
         html_generation(in) + html_compare(in) + html_worst(in) + html_judge_errors(in) +
         "</body></html>\n";
}

void write_reports(const fs::path& run_dir) {
  write_reports(run_dir, read_report_inputs(run_dir));
}

void write_reports(const fs::path& run_dir, const ReportInputs& in) {
  atomic_write(run_dir / "report.md", render_report_markdown(in));
  atomic_write(run_dir / "report.html", render_report_html(in));
}

}  // namespace assay::eval
