#include "eval/judge_reliability.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "core/error.h"
#include "scoring/agreement.h"
#include "scoring/lc_winrate.h"
#include "scoring/ppi.h"

namespace assay::eval {
using nlohmann::json;

namespace {

constexpr double kNa = std::numeric_limits<double>::quiet_NaN();

double preference_of(const std::string& outcome) {
  return outcome == "win" ? 1.0 : outcome == "tie" ? 0.5 : 0.0;
}

json number_or_null(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? json(*v) : json(nullptr);
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::vector<std::string> judge_entry_names(const judges::Rubric& rubric) {
  if (rubric.kind == judges::RubricKind::kPairwise) return {"pairwise"};
  std::vector<std::string> out;
  for (const auto& c : rubric.criteria) out.push_back(c.name);
  return out;
}

std::vector<double> judge_values(const judges::Rubric& rubric,
                                 const std::vector<judges::Judgment>& judgments, size_t entry,
                                 int repeat) {
  std::vector<double> out(judgments.size(), kNa);
  const bool pairwise = rubric.kind == judges::RubricKind::kPairwise;
  for (size_t i = 0; i < judgments.size(); ++i) {
    const judges::Judgment& j = judgments[i];
    if (!j.ok) continue;
    if (pairwise) {
      out[i] = preference_of(repeat < 0 ? j.outcome : j.repeat_outcomes.at(repeat));
    } else {
      out[i] = repeat < 0 ? j.scores.at(entry).score : j.repeat_scores.at(repeat).at(entry).score;
    }
  }
  return out;
}

std::vector<judges::Judgment> combine_judgments(
    const judges::Rubric& rubric, const std::vector<std::vector<judges::Judgment>>& by_judge,
    const std::string& combine) {
  ASSAY_CHECK(!by_judge.empty());
  const size_t n = by_judge.front().size();
  const bool pairwise = rubric.kind == judges::RubricKind::kPairwise;
  const bool majority = combine == "majority";
  // The combined value of one entry over the judges' values.
  auto pick = [&](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    if (!majority) {
      double sum = 0;
      for (double x : v) sum += x;
      return sum / static_cast<double>(v.size());
    }
    for (size_t a = 0; a < v.size();) {
      size_t b = a;
      while (b < v.size() && v[b] == v[a]) ++b;
      if (2 * (b - a) > v.size()) return v[a];
      a = b;
    }
    return pairwise ? 0.5 : v[(v.size() - 1) / 2];  // no majority: tie / the lower median
  };
  std::vector<judges::Judgment> out(n);
  for (size_t i = 0; i < n; ++i) {
    judges::Judgment& c = out[i];
    c = by_judge.front()[i];
    c.repeat_scores.clear();
    c.repeat_outcomes.clear();
    c.from_cache = true;
    c.attempts = 0;
    for (const auto& js : by_judge) {
      c.attempts += js[i].attempts;
      c.from_cache = c.from_cache && js[i].from_cache;
      if (!js[i].ok && c.ok) {
        c.ok = false;
        c.error = js[i].error;
      }
    }
    if (!c.ok) continue;
    if (pairwise) {
      std::vector<double> v;
      for (const auto& js : by_judge) v.push_back(preference_of(js[i].outcome));
      const double p = pick(v);
      c.outcome = p > 0.5 ? "win" : p < 0.5 ? "loss" : "tie";
      continue;
    }
    for (size_t e = 0; e < c.scores.size(); ++e) {
      std::vector<double> v;
      for (const auto& js : by_judge) v.push_back(js[i].scores[e].score);
      c.scores[e].score = pick(v);
    }
  }
  return out;
}

void add_repeat_figures(const judges::Rubric& rubric,
                        const std::vector<judges::Judgment>& judgments, int repeats,
                        json& summary) {
  if (repeats < 2) return;
  const std::vector<std::string> names = judge_entry_names(rubric);
  for (size_t e = 0; e < names.size(); ++e) {
    std::vector<std::vector<double>> by_repeat;
    for (int r = 0; r < repeats; ++r) by_repeat.push_back(judge_values(rubric, judgments, e, r));
    double agree_sum = 0, sd_sum = 0;
    size_t n = 0, flips = 0;
    for (size_t i = 0; i < judgments.size(); ++i) {
      if (!judgments[i].ok) continue;
      ++n;
      size_t equal_pairs = 0, pairs = 0;
      double mean = 0;
      for (int r = 0; r < repeats; ++r) mean += by_repeat[r][i];
      mean /= repeats;
      double ss = 0;
      for (int r = 0; r < repeats; ++r) {
        ss += (by_repeat[r][i] - mean) * (by_repeat[r][i] - mean);
        for (int s = r + 1; s < repeats; ++s) {
          ++pairs;
          equal_pairs += by_repeat[r][i] == by_repeat[s][i];
        }
      }
      agree_sum += static_cast<double>(equal_pairs) / static_cast<double>(pairs);
      sd_sum += std::sqrt(ss / (repeats - 1));
      flips += equal_pairs != pairs;
    }
    json& entry = summary[names[e]];
    entry["repeats"] = repeats;
    const double dn = static_cast<double>(n);
    entry["agreement"] = n > 0 ? json(agree_sum / dn) : json(nullptr);
    entry["repeat_sd"] = n > 0 ? json(sd_sum / dn) : json(nullptr);
    entry["flip_rate"] = n > 0 ? json(static_cast<double>(flips) / dn) : json(nullptr);
    entry["repeat_alpha"] =
        number_or_null(scoring::krippendorff_alpha(by_repeat, scoring::AlphaMetric::kOrdinal));
  }
}

void add_judge_agreement(const judges::Rubric& rubric,
                         const std::vector<std::vector<judges::Judgment>>& by_judge,
                         json& summary) {
  if (by_judge.size() < 2) return;
  const std::vector<std::string> names = judge_entry_names(rubric);
  for (size_t e = 0; e < names.size(); ++e) {
    std::vector<std::vector<double>> ratings;
    for (const auto& js : by_judge) ratings.push_back(judge_values(rubric, js, e));
    size_t n_all = 0;
    for (size_t i = 0; i < ratings.front().size(); ++i) {
      bool all = true;
      for (const auto& r : ratings) all = all && !std::isnan(r[i]);
      n_all += all;
    }
    json& entry = summary[names[e]];
    entry["kappa"] = ratings.size() == 2
                         ? number_or_null(scoring::cohen_kappa(ratings[0], ratings[1],
                                                               scoring::KappaWeights::kQuadratic))
                         : json(nullptr);
    entry["alpha"] =
        number_or_null(scoring::krippendorff_alpha(ratings, scoring::AlphaMetric::kOrdinal));
    entry["n_agreement"] = n_all;
  }
}

size_t add_calibration(const judges::Rubric& rubric, const std::vector<judges::Judgment>& judgments,
                       const std::vector<std::string>& ids, const HumanLabels& labels,
                       double confidence, json& summary) {
  ASSAY_CHECK(ids.size() == judgments.size());
  size_t matched = 0;
  for (const auto& id : ids) matched += labels.by_id.contains(id);
  const std::vector<std::string> names = judge_entry_names(rubric);
  for (size_t e = 0; e < names.size(); ++e) {
    const std::vector<double> judge = judge_values(rubric, judgments, e);
    std::vector<double> judge_l, human_l;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = labels.by_id.find(ids[i]);
      if (it == labels.by_id.end() || std::isnan(judge[i])) continue;
      auto h = it->second.find(names[e]);
      if (h == it->second.end()) continue;
      judge_l.push_back(judge[i]);
      human_l.push_back(h->second);
    }
    json& entry = summary[names[e]];
    entry["n_labelled"] = judge_l.size();
    double human_sum = 0;
    for (double h : human_l) human_sum += h;
    entry["human_mean"] =
        human_l.empty() ? json(nullptr) : json(human_sum / static_cast<double>(human_l.size()));
    entry["human_kappa"] =
        number_or_null(scoring::cohen_kappa(judge_l, human_l, scoring::KappaWeights::kQuadratic));
    entry["human_alpha"] = number_or_null(
        scoring::krippendorff_alpha({judge_l, human_l}, scoring::AlphaMetric::kOrdinal));
    const auto ppi = scoring::ppi_mean(judge, judge_l, human_l, confidence);
    entry["calibrated_mean"] = ppi ? json(ppi->mean) : json(nullptr);
    entry["calibrated_ci_low"] = ppi ? json(ppi->ci_low) : json(nullptr);
    entry["calibrated_ci_high"] = ppi ? json(ppi->ci_high) : json(nullptr);
  }
  return labels.by_id.size() - matched;
}

void add_length_controlled(const std::vector<judges::Judgment>& judgments,
                           const std::vector<std::string>& answers_a,
                           const std::vector<std::string>& answers_b,
                           const scoring::BootstrapDraws& draws, json& summary) {
  std::vector<double> pref(judgments.size(), kNa), len_a, len_b;
  for (size_t i = 0; i < judgments.size(); ++i) {
    if (judgments[i].ok) pref[i] = preference_of(judgments[i].outcome);
    len_a.push_back(static_cast<double>(code_points(answers_a[i])));
    len_b.push_back(static_cast<double>(code_points(answers_b[i])));
  }
  json& entry = summary["pairwise"];
  const auto fit = scoring::lc_win_rate(pref, len_a, len_b);
  if (!fit) {
    entry["lc_win_rate"] = entry["lc_ci_low"] = entry["lc_ci_high"] = nullptr;
    entry["length_coef"] = nullptr;
    return;
  }
  const scoring::Interval ci = scoring::lc_win_rate_ci(pref, len_a, len_b, draws, fit->win_rate);
  entry["lc_win_rate"] = fit->win_rate;
  entry["lc_ci_low"] = ci.low;
  entry["lc_ci_high"] = ci.high;
  entry["length_coef"] = fit->length_coef;
}

const std::vector<std::string>& reliability_overview_fields() {
  static const std::vector<std::string> fields = {"kappa",     "alpha",       "agreement",
                                                  "flip_rate", "human_kappa", "human_alpha"};
  return fields;
}

namespace {

struct FigureGroup {
  const char* needs;
  std::vector<std::string> fields;
};
const std::vector<FigureGroup>& figure_groups() {
  static const std::vector<FigureGroup> groups = {
      {"judge.repeats of 2 or more", {"agreement", "repeat_sd", "flip_rate", "repeat_alpha"}},
      {"two or more judges (`judges`)", {"kappa", "alpha", "n_agreement"}},
      {"judge.calibration",
       {"n_labelled", "human_mean", "human_kappa", "human_alpha", "calibrated_mean",
        "calibrated_ci_low", "calibrated_ci_high"}},
      {"a pairwise rubric", {"lc_win_rate", "lc_ci_low", "lc_ci_high", "length_coef"}},
  };
  return groups;
}

}  // namespace

std::string reliability_figure_needs(const std::string& field) {
  for (const auto& g : figure_groups()) {
    if (std::find(g.fields.begin(), g.fields.end(), field) != g.fields.end()) return g.needs;
  }
  return "";
}

std::set<std::string> reliability_figures(int repeats, size_t n_judges, bool calibration,
                                          bool pairwise) {
  const bool on[] = {repeats >= 2, n_judges >= 2, calibration, pairwise};
  std::set<std::string> out;
  for (size_t k = 0; k < figure_groups().size(); ++k) {
    if (on[k]) out.insert(figure_groups()[k].fields.begin(), figure_groups()[k].fields.end());
  }
  return out;
}

json reliability_overview(const json& summary) {
  json out = json::object();
  for (const auto& field : reliability_overview_fields()) {
    const bool highest = field == "flip_rate";
    std::optional<double> v;
    for (auto it = summary.begin(); it != summary.end(); ++it) {
      const json& f = it.value().value(field, json());
      if (!f.is_number()) continue;
      const double x = f.get<double>();
      if (!v || (highest ? x > *v : x < *v)) v = x;
    }
    out[field] = v ? json(*v) : json(nullptr);
  }
  return out;
}

}  // namespace assay::eval
