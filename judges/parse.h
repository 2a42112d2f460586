// Parsing judge replies from models that misbehave: JSON inside code fences or followed by
// prose, scores as strings ("3", "3/3"), wrong key case, out-of-range or missing scores. A reply
// either parses completely or yields a reason; there is never a default score.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "judges/rubric.h"

namespace assay::judges {

struct CriterionScore {
  std::string name;      // criterion name from the rubric
  double score = 0;      // within [min, max] of the criterion
  std::string analysis;  // the judge's explanation ("" when it gave none)
};

struct ParsedReply {
  bool ok = false;
  std::vector<CriterionScore> scores;  // criteria/rating rubrics, in rubric order
  char verdict = 0;                    // pairwise: 'A', 'B' or 'C' (tie)
  std::string error;                   // why it did not parse (when !ok)
};

// Parses `content` as a reply to `rubric`.
ParsedReply parse_reply(const Rubric& rubric, std::string_view content);

// The first balanced JSON object in `text` (code fences and surrounding prose ignored), or ""
// when there is none. Exposed for tests.
std::string extract_json_object(std::string_view text);

// What a repair request tells the judge about the format it must use.
std::string format_instructions(const Rubric& rubric);

}  // namespace assay::judges
