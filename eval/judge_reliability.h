// How far a judge's scores can be trusted, as summary.json figures: self-consistency over
// judge.repeats, agreement between several judges (and their combined score), agreement with
// people and the prediction-powered (PPI) human-scale mean, and AlpacaEval's length-controlled
// win rate for pairwise runs. The statistics are scoring/agreement.h, ppi.h and lc_winrate.h;
// this file picks the values out of judgments and names the figures.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/human_labels.h"
#include "judges/judge_runner.h"
#include "judges/rubric.h"
#include "scoring/aggregate.h"

namespace assay::eval {

// The summary entries of a rubric: its criteria's names, or {"pairwise"}.
std::vector<std::string> judge_entry_names(const judges::Rubric& rubric);

// Per-sample value of entry `entry` (index into judge_entry_names): the criterion's score, or the
// pairwise preference (win 1, tie 0.5, loss 0); NaN where the judgment failed. `repeat` >= 0
// reads that repeat's value instead of the combined one.
std::vector<double> judge_values(const judges::Rubric& rubric,
                                 const std::vector<judges::Judgment>& judgments, size_t entry,
                                 int repeat = -1);

// The several judges' judgments of the same items as one: `combine` "mean" (criteria: the mean
// score; pairwise: win when the mean preference is above 0.5, loss below, else tie) or
// "majority" (the value more than half of the judges gave, else the lower median; pairwise: the
// outcome more than half gave, else tie). An item fails when any judge failed on it (the first
// judge's error). Pairwise verdicts (position consistency) are the first judge's.
std::vector<judges::Judgment> combine_judgments(
    const judges::Rubric& rubric, const std::vector<std::vector<judges::Judgment>>& by_judge,
    const std::string& combine);

// Adds to each entry of `summary` (summarize_judgments' output) the self-consistency of
// `repeats` > 1 repeats: "repeats" (k), "agreement" (share of equal pairs of repeats, averaged
// over samples), "repeat_sd" (within-sample standard deviation, ddof 1, averaged), "flip_rate"
// (share of samples whose repeats are not all equal), "repeat_alpha" (Krippendorff's ordinal
// alpha with the repeats as raters). Samples the judge failed on are left out.
void add_repeat_figures(const judges::Rubric& rubric,
                        const std::vector<judges::Judgment>& judgments, int repeats,
                        nlohmann::json& summary);

// Adds to each entry of `summary` the agreement of two or more judges on the samples: "kappa"
// (two judges: Cohen's kappa, quadratic-weighted; null for three or more), "alpha"
// (Krippendorff's ordinal alpha, any number) and "n_agreement" (samples every judge scored).
void add_judge_agreement(const judges::Rubric& rubric,
                         const std::vector<std::vector<judges::Judgment>>& by_judge,
                         nlohmann::json& summary);

// Adds to each entry of `summary` the calibration against `labels`: "n_labelled", "human_mean",
// "human_kappa" (quadratic-weighted) and "human_alpha" (ordinal) between the judge and people on
// the labelled samples, and the PPI estimate "calibrated_mean", "calibrated_ci_low",
// "calibrated_ci_high" at `confidence` (null when fewer than 2 labelled samples were judged).
// `ids[i]` is sample i's id. Returns how many label ids matched no sample.
size_t add_calibration(const judges::Rubric& rubric, const std::vector<judges::Judgment>& judgments,
                       const std::vector<std::string>& ids, const HumanLabels& labels,
                       double confidence, nlohmann::json& summary);

// Adds to summary["pairwise"] the length-controlled win rate (scoring/lc_winrate.h):
// "lc_win_rate", "lc_ci_low", "lc_ci_high" over `draws`, and "length_coef". `answers_a/b` are the
// answers judged, their lengths counted in Unicode code points.
void add_length_controlled(const std::vector<judges::Judgment>& judgments,
                           const std::vector<std::string>& answers_a,
                           const std::vector<std::string>& answers_b,
                           const scoring::BootstrapDraws& draws, nlohmann::json& summary);

// summary.json "judge_reliability": the weakest figure over the entries, for gates
// (judge.kappa, judge.alpha, judge.agreement, judge.flip_rate, judge.human_kappa,
// judge.human_alpha): the lowest kappa/alpha/agreement, the highest flip_rate; null when no
// entry has the figure.
nlohmann::json reliability_overview(const nlohmann::json& summary);

// The gate keys judge.<X> that reliability_overview provides.
const std::vector<std::string>& reliability_overview_fields();

// What a run needs for a figure to exist: "judge.repeats of 2 or more", "two or more judges
// (`judges`)", "judge.calibration" or "a pairwise rubric"; "" for a field that is not a
// reliability figure (mean, ci_low, ...).
std::string reliability_figure_needs(const std::string& field);

// The reliability figures a run with these settings writes into each judge entry.
std::set<std::string> reliability_figures(int repeats, size_t n_judges, bool calibration,
                                          bool pairwise);

}  // namespace assay::eval
