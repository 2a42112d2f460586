#include "scoring/scorer.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include "core/error.h"
#include "core/suggest.h"
#include "scoring/bleu.h"
#include "scoring/chrf.h"
#include "scoring/compare.h"
#include "scoring/rouge.h"
#include "scoring/squad.h"
#include "scoring/ter.h"
#include "scoring/text_metrics.h"

namespace assay::scoring {
namespace {

using json = nlohmann::json;

// Metrics that share one computation per sample (e.g. all ROUGE types) form a family.
enum class Family {
  kExact,
  kQuasi,
  kSquadEm,
  kSquadPrf,
  kBleu,
  kChrf,
  kChrfPp,
  kTer,
  kRouge,
  kRougeStem,
  kRegex,
  kContains,
  kJson,
  kWords,
};
constexpr int kFamilies = static_cast<int>(Family::kWords) + 1;

// Everything computed for one sample; only the families a run asked for are filled.
struct SampleResult {
  double exact = 0, quasi = 0, squad_em = 0, regex = 0, contains = 0, json = 0, words = 0;
  TokenPrf squad;
  BleuStats bleu;
  ChrfStats chrf, chrf_pp;
  TerStats ter;
  RougeScores rouge, rouge_stem;
};

struct MetricDef {
  std::string name;
  Family family;
  std::function<double(const SampleResult&)> get;
};

void add_rouge(std::vector<MetricDef>& defs, const char* suffix, bool prf_first, char which) {
  (void)prf_first;
  const bool stem = std::string(suffix) == "_stem";
  Family fam = stem ? Family::kRougeStem : Family::kRouge;
  struct T {
    const char* name;
    RougePrf RougeScores::*member;
  };
  const T types[] = {{"rouge1", &RougeScores::rouge1},
                     {"rouge2", &RougeScores::rouge2},
                     {"rougeL", &RougeScores::rougeL},
                     {"rougeLsum", &RougeScores::rougeLsum}};
  for (const auto& t : types) {
    auto member = t.member;
    std::string name = std::string(t.name) + "_" + which + suffix;
    std::function<double(const SampleResult&)> get;
    auto scores = stem ? &SampleResult::rouge_stem : &SampleResult::rouge;
    if (which == 'f') get = [=](const SampleResult& r) { return (r.*scores.*member).fmeasure; };
    if (which == 'p') get = [=](const SampleResult& r) { return (r.*scores.*member).precision; };
    if (which == 'r') get = [=](const SampleResult& r) { return (r.*scores.*member).recall; };
    defs.push_back({name, fam, get});
  }
}

const std::vector<MetricDef>& metric_defs() {
  static const std::vector<MetricDef> defs = [] {
    std::vector<MetricDef> d = {
        {"exact_match", Family::kExact, [](const SampleResult& r) { return r.exact; }},
        {"quasi_exact_match", Family::kQuasi, [](const SampleResult& r) { return r.quasi; }},
        {"squad_em", Family::kSquadEm, [](const SampleResult& r) { return r.squad_em; }},
        {"squad_f1", Family::kSquadPrf, [](const SampleResult& r) { return r.squad.f1; }},
        {"squad_p", Family::kSquadPrf, [](const SampleResult& r) { return r.squad.precision; }},
        {"squad_r", Family::kSquadPrf, [](const SampleResult& r) { return r.squad.recall; }},
        {"sentence_bleu", Family::kBleu,
         [](const SampleResult& r) { return compute_bleu(r.bleu, true).score; }},
        {"chrf", Family::kChrf, [](const SampleResult& r) { return chrf_score(r.chrf); }},
        {"chrf_pp", Family::kChrfPp, [](const SampleResult& r) { return chrf_score(r.chrf_pp); }},
        {"ter", Family::kTer, [](const SampleResult& r) { return ter_score(r.ter); }},
    };
    add_rouge(d, "", true, 'f');
    add_rouge(d, "_stem", true, 'f');
    add_rouge(d, "", true, 'p');
    add_rouge(d, "", true, 'r');
    add_rouge(d, "_stem", true, 'p');
    add_rouge(d, "_stem", true, 'r');
    d.push_back({"regex_match", Family::kRegex, [](const SampleResult& r) { return r.regex; }});
    d.push_back({"contains", Family::kContains, [](const SampleResult& r) { return r.contains; }});
    d.push_back({"valid_json", Family::kJson, [](const SampleResult& r) { return r.json; }});
    d.push_back({"answer_words", Family::kWords, [](const SampleResult& r) { return r.words; }});
    return d;
  }();
  return defs;
}

const std::map<std::string, std::vector<std::string>>& groups() {
  static const std::map<std::string, std::vector<std::string>> g = [] {
    std::map<std::string, std::vector<std::string>> m = {
        {"squad", {"squad_em", "squad_f1"}},
        {"bleu", {"sentence_bleu"}},
        {"chrf", {"chrf", "chrf_pp"}},
        {"ter", {"ter"}},
        {"rouge", {"rouge1_f", "rouge2_f", "rougeL_f", "rougeLsum_f"}},
        {"rouge_stem", {"rouge1_f_stem", "rouge2_f_stem", "rougeL_f_stem", "rougeLsum_f_stem"}},
    };
    // "all": every metric that needs no options (regex_match needs a pattern).
    for (const auto& d : metric_defs()) {
      if (d.family != Family::kRegex) m["all"].push_back(d.name);
    }
    return m;
  }();
  return g;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Options each metric accepts (anything else is an error).
const std::map<std::string, std::vector<std::string>>& allowed_options() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"regex_match", {"pattern", "full", "ignore_case"}},
      {"contains", {"ignore_case"}},
  };
  return m;
}

struct ResolvedOptions {
  std::unique_ptr<RegexMatcher> regex;
  bool contains_ignore_case = false;
};

bool bool_option(const MetricRequest& req, const char* key, bool fallback) {
  if (!req.options.is_object() || !req.options.contains(key)) return fallback;
  const json& v = req.options.at(key);
  if (!v.is_boolean()) {
    throw_invalid("metric '" + req.name + "': option '" + key + "' must be true or false, got " +
                  v.dump());
  }
  return v.get<bool>();
}

void check_options(const MetricRequest& req) {
  if (req.options.is_null()) return;
  if (!req.options.is_object()) {
    throw_invalid("metric '" + req.name + "': options must be an object, got " +
                  req.options.dump());
  }
  if (req.options.empty()) return;
  auto it = allowed_options().find(req.name);
  std::vector<std::string> allowed =
      it == allowed_options().end() ? std::vector<std::string>{} : it->second;
  for (auto opt = req.options.begin(); opt != req.options.end(); ++opt) {
    if (std::find(allowed.begin(), allowed.end(), opt.key()) == allowed.end()) {
      throw_invalid(
          "metric '" + req.name + "': unknown option '" + opt.key() + "'" +
          did_you_mean(opt.key(), allowed) +
          (allowed.empty() ? "; this metric takes no options" : "; options: " + join(allowed)));
    }
  }
}

ResolvedOptions resolve_options(const std::vector<MetricRequest>& requests) {
  ResolvedOptions out;
  for (const auto& req : requests) {
    check_options(req);
    if (req.name == "regex_match") {
      if (!req.options.is_object() || !req.options.contains("pattern") ||
          !req.options.at("pattern").is_string()) {
        throw_invalid(
            "metric 'regex_match' needs option 'pattern' (a string), e.g. "
            "{\"name\": \"regex_match\", \"pattern\": \"^[A-D]$\"}");
      }
      out.regex = std::make_unique<RegexMatcher>(req.options.at("pattern").get<std::string>(),
                                                 bool_option(req, "full", false),
                                                 bool_option(req, "ignore_case", false));
    } else if (req.name == "contains") {
      out.contains_ignore_case = bool_option(req, "ignore_case", false);
    }
  }
  return out;
}

void score_sample(const std::string& pred, const std::string& ref, const bool* need,
                  const ResolvedOptions& opts, SampleResult& r) {
  auto on = [&](Family f) { return need[static_cast<int>(f)]; };
  if (on(Family::kExact)) r.exact = exact_match(pred, ref);
  if (on(Family::kQuasi)) r.quasi = quasi_exact_match(pred, ref);
  if (on(Family::kSquadEm)) r.squad_em = squad_exact_match(pred, ref);
  if (on(Family::kSquadPrf)) r.squad = squad_token_prf(pred, ref);
  if (on(Family::kBleu)) r.bleu = bleu_stats(pred, ref);
  if (on(Family::kChrf)) r.chrf = chrf_stats(pred, ref, 0);
  if (on(Family::kChrfPp)) r.chrf_pp = chrf_stats(pred, ref, 2);
  if (on(Family::kTer)) r.ter = ter_stats(pred, ref);
  if (on(Family::kRouge)) r.rouge = rouge_scores(pred, ref, false);
  if (on(Family::kRougeStem)) r.rouge_stem = rouge_scores(pred, ref, true);
  if (on(Family::kRegex)) r.regex = opts.regex->match(pred);
  if (on(Family::kContains)) r.contains = contains(pred, ref, opts.contains_ignore_case);
  if (on(Family::kJson)) r.json = valid_json(pred);
  if (on(Family::kWords)) r.words = answer_words(pred);
}

json interval_json(const Interval& ci) {
  return {{"ci_low", ci.low}, {"ci_high", ci.high}};
}

// Sums per-sample statistics with per-thread partial sums (tbb::parallel_reduce).
template <typename Stats, typename Get>
Stats parallel_sum(std::size_t n, Get get) {
  return tbb::parallel_reduce(
      tbb::blocked_range<std::size_t>(0, n), Stats{},
      [&](const tbb::blocked_range<std::size_t>& r, Stats acc) {
        for (std::size_t i = r.begin(); i != r.end(); ++i) acc += get(i);
        return acc;
      },
      [](Stats a, const Stats& b) { return a += b; });
}

json corpus_json(const std::vector<SampleResult>& results, const bool* need,
                 const BootstrapOptions& bootstrap) {
  json corpus = json::object();
  const std::size_t n = results.size();
  if (n == 0) return corpus;
  if (need[static_cast<int>(Family::kBleu)]) {
    std::vector<BleuStats> stats(n);
    for (std::size_t i = 0; i < n; ++i) stats[i] = results[i].bleu;
    BleuScore b =
        compute_bleu(parallel_sum<BleuStats>(n, [&](std::size_t i) { return stats[i]; }), false);
    Interval ci = corpus_bootstrap<BleuStats>(
        stats, [](const BleuStats& s) { return compute_bleu(s, false).score; }, bootstrap);
    corpus["bleu"] = {{"score", b.score},     {"counts", b.counts},
                      {"totals", b.totals},   {"precisions", b.precisions},
                      {"bp", b.bp},           {"sys_len", b.sys_len},
                      {"ref_len", b.ref_len}, {"n", n}};
    corpus["bleu"].update(interval_json(ci));
  }
  auto chrf_corpus = [&](ChrfStats SampleResult::*member, int word_order, const char* key) {
    std::vector<ChrfStats> stats(n);
    for (std::size_t i = 0; i < n; ++i) stats[i] = results[i].*member;
    auto score = [word_order](ChrfStats s) {
      s.word_order = word_order;
      return chrf_score(s);
    };
    double value = score(parallel_sum<ChrfStats>(n, [&](std::size_t i) { return stats[i]; }));
    Interval ci = corpus_bootstrap<ChrfStats>(stats, score, bootstrap);
    corpus[key] = {{"score", value}, {"n", n}};
    corpus[key].update(interval_json(ci));
  };
  if (need[static_cast<int>(Family::kChrf)]) chrf_corpus(&SampleResult::chrf, 0, "chrf");
  if (need[static_cast<int>(Family::kChrfPp)]) chrf_corpus(&SampleResult::chrf_pp, 2, "chrf_pp");
  if (need[static_cast<int>(Family::kTer)]) {
    std::vector<TerStats> stats;  // pairs beyond kTerMaxWords (NaN) are left out and counted
    for (const auto& r : results) {
      if (!std::isnan(r.ter.num_edits)) stats.push_back(r.ter);
    }
    TerStats total = parallel_sum<TerStats>(stats.size(), [&](std::size_t i) { return stats[i]; });
    corpus["ter"] = {{"score", ter_score(total)},
                     {"num_edits", total.num_edits},
                     {"ref_length", total.ref_length},
                     {"n", stats.size()},
                     {"not_computed", n - stats.size()}};
    if (!stats.empty()) {
      corpus["ter"].update(interval_json(corpus_bootstrap<TerStats>(stats, ter_score, bootstrap)));
    }
  }
  return corpus;
}

}  // namespace

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& d : metric_defs()) n.push_back(d.name);
    return n;
  }();
  return names;
}

std::vector<std::string> known_groups() {
  std::vector<std::string> out;
  for (const auto& [name, members] : groups()) out.push_back(name);
  return out;
}

const std::vector<std::string>& model_metrics() {
  static const std::vector<std::string> names = {"answer_tokens", "ref_perplexity",
                                                 "ref_bits_per_byte"};
  return names;
}

namespace {

bool is_model_metric(const std::string& name) {
  const auto& m = model_metrics();
  return name == kPerplexityGroup || std::find(m.begin(), m.end(), name) != m.end();
}

}  // namespace

std::vector<std::string> take_model_metrics(std::vector<MetricRequest>& requests) {
  std::vector<std::string> wanted;
  std::vector<MetricRequest> rest;
  for (auto& req : requests) {
    if (!is_model_metric(req.name)) {
      rest.push_back(std::move(req));
      continue;
    }
    if (!req.options.is_null() && !(req.options.is_object() && req.options.empty())) {
      throw_invalid("metric '" + req.name + "' takes no options");
    }
    if (req.name == kPerplexityGroup) {
      wanted.insert(wanted.end(), {"ref_perplexity", "ref_bits_per_byte"});
    } else {
      wanted.push_back(req.name);
    }
  }
  requests = std::move(rest);
  std::vector<std::string> out;
  for (const auto& name : model_metrics()) {
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) out.push_back(name);
  }
  return out;
}

std::vector<std::string> resolve_metrics(const std::vector<MetricRequest>& requests) {
  std::vector<std::string> wanted;
  for (const auto& req : requests) {
    if (is_model_metric(req.name)) {
      throw_invalid("metric '" + req.name +
                    "' needs the model: answer_tokens counts the generated tokens and the "
                    "perplexity group (ref_perplexity, ref_bits_per_byte) scores the reference "
                    "with the model, so only `evaluate run` computes them; `evaluate score` "
                    "scores strings only (remove it from the metrics)");
    }
    auto g = groups().find(req.name);
    if (g != groups().end()) {
      if (!req.options.is_null() && !(req.options.is_object() && req.options.empty())) {
        throw_invalid("metric group '" + req.name +
                      "' takes no options; give options to a single metric");
      }
      wanted.insert(wanted.end(), g->second.begin(), g->second.end());
      continue;
    }
    const auto& known = known_metrics();
    if (std::find(known.begin(), known.end(), req.name) == known.end()) {
      std::vector<std::string> all = known;
      for (const auto& name : known_groups()) all.push_back(name);
      throw_invalid("unknown metric '" + req.name + "'" + did_you_mean(req.name, all) +
                    "; known metrics: " + join(known) + "; groups: " + join(known_groups()));
    }
    check_options(req);
    wanted.push_back(req.name);
  }
  std::vector<std::string> out;
  for (const auto& name : known_metrics()) {
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) out.push_back(name);
  }
  return out;
}

ScoredDataset score_dataset(const std::vector<std::string>& predictions,
                            const std::vector<std::string>& references,
                            const std::vector<MetricRequest>& requests,
                            const BootstrapOptions& bootstrap,
                            const std::function<void(std::size_t)>& on_progress) {
  ASSAY_CHECK(predictions.size() == references.size());
  ScoredDataset out;
  out.columns = resolve_metrics(requests);
  ResolvedOptions opts = resolve_options(requests);
  std::vector<const MetricDef*> defs;
  bool need[kFamilies] = {};
  for (const auto& col : out.columns) {
    for (const auto& d : metric_defs()) {
      if (d.name == col) {
        defs.push_back(&d);
        need[static_cast<int>(d.family)] = true;
      }
    }
  }
  if (need[static_cast<int>(Family::kRegex)] && !opts.regex) {
    throw_invalid("metric 'regex_match' needs option 'pattern' (a string)");
  }
  const std::size_t n = predictions.size();
  std::vector<SampleResult> results(n);
  out.values.assign(n, std::vector<double>(defs.size(), 0.0));
  // Each sample writes only its own slots; no shared state per item.
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      for (std::size_t i = r.begin(); i != r.end(); ++i) {
                        score_sample(predictions[i], references[i], need, opts, results[i]);
                        for (std::size_t m = 0; m < defs.size(); ++m)
                          out.values[i][m] = defs[m]->get(results[i]);
                      }
                      if (on_progress) on_progress(r.size());
                    });
  for (std::size_t m = 0; m < defs.size(); ++m) {
    std::vector<double> column(n);
    for (std::size_t i = 0; i < n; ++i) column[i] = out.values[i][m];
    MeanSummary s = summarize_mean(column, bootstrap);
    out.summary[out.columns[m]] = {{"mean", s.mean},
                                   {"n", s.n},
                                   {"stderr", s.stderr_},
                                   {"ci_low", s.ci_low},
                                   {"ci_high", s.ci_high}};
  }
  out.corpus = corpus_json(results, need, bootstrap);
  return out;
}

}  // namespace assay::scoring
