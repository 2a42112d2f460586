// Human labels for calibrating a judge (config judge.calibration): a JSONL file with one object
// per labelled sample, {"id": "<sample id>", "<criterion>": score, ...}, scores on the rubric's
// scale; for a pairwise rubric {"id": ..., "pairwise": "win" | "tie" | "loss"} (A's side, like
// the judge's outcome). A line may label some criteria only.
#pragma once

#include <map>
#include <string>
#include <unordered_map>

#include "judges/rubric.h"

namespace assay::eval {

struct HumanLabels {
  std::string path;
  // sample id -> criterion name ("pairwise" for a pairwise rubric) -> score (pairwise: win 1,
  // tie 0.5, loss 0)
  std::unordered_map<std::string, std::map<std::string, double>> by_id;
};

// Reads `path` for `rubric`. Throws assay::Error: not found / i/o for the file, invalid input
// "path:line: field 'x' ..." for a line that is not an object, a missing or non-string id, an id
// given twice, a field that is not a criterion of the rubric (with a did-you-mean hint), or a
// score that is not a number on the criterion's scale.
HumanLabels load_human_labels(const std::string& path, const judges::Rubric& rubric);

}  // namespace assay::eval
