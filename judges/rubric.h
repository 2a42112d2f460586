// Judge rubrics as data: what to ask (system + user template), which criteria and scales to
// expect, how the reply is formatted, and the call parameters. Built-in rubrics come from
// configs/judges/*.json; a path to a JSON file with the same fields works too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay::judges {

enum class RubricKind {
  kCriteria,  // JSON reply {"<criterion>": {"analysis": "...", "score": n}, ...}
  kRating,    // one rating written as [[n]] (MT-Bench single)
  kPairwise,  // [[A]] / [[B]] / [[C]] (tie), judged in both orders
};

struct Criterion {
  std::string name;  // the reply's key (criteria) or the summary's name (rating)
  int min = 1;       // lowest valid score
  int max = 3;       // highest valid score
};

struct Rubric {
  std::string name;         // "handbook", or the file's stem
  std::string description;  // one line for people
  RubricKind kind = RubricKind::kCriteria;
  std::string system;  // system message ("" means none)
  // User message with placeholders {{instruction}} (instruction + input), {{answer}},
  // {{reference}}, {{answer_a}}, {{answer_b}}.
  std::string user;
  std::vector<Criterion> criteria;              // empty for pairwise
  bool needs_reference = false;                 // the dataset must have reference answers
  std::string response_format = "json_object";  // "json_object", "json_schema" or "text"
  double temperature = 0.0;
  int max_tokens = 1000;
  // A typical reply's length in tokens, for cost estimates (`evaluate run --estimate`); 0: use
  // max_tokens (an upper bound).
  int expected_reply_tokens = 0;
  std::optional<std::int64_t> seed;  // sent when set
};

// Parses a rubric from JSON. `label` names the source in messages. Throws assay::Error (invalid
// input) naming the label and the field at fault.
Rubric parse_rubric(const nlohmann::json& doc, const std::string& label);

// Loads a built-in rubric by name ("handbook", "reference", "mt_bench_single", "pairwise") or a
// rubric file by path (anything containing '/' or ending in ".json"). Throws assay::Error (not
// found with the built-in names listed, or invalid input).
Rubric load_rubric(const std::string& name_or_path);

// Names of the built-in rubrics.
std::vector<std::string> builtin_rubric_names();

// Replaces each {{key}} in `tmpl` with vars[key]; unknown placeholders are left as they are.
std::string render_template(std::string_view tmpl, const std::map<std::string, std::string>& vars);

// The OpenAI `response_format` object for a rubric (null for "text").
nlohmann::json response_format_json(const Rubric& rubric);

}  // namespace assay::judges
