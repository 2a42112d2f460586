#include "judges/rubric.h"

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/suggest.h"
#include "judges/builtin_rubrics.h"

namespace assay::judges {
using nlohmann::json;

namespace {

std::string get_string(const json& doc, const std::string& label, const char* field,
                       bool required) {
  if (!doc.contains(field)) {
    if (required) throw_invalid(label + ": missing field '" + field + "'");
    return {};
  }
  if (!doc[field].is_string()) throw_invalid(label + ": field '" + field + "' must be a string");
  return doc[field].get<std::string>();
}

}  // namespace

Rubric parse_rubric(const json& doc, const std::string& label) {
  if (!doc.is_object()) throw_invalid(label + ": a rubric must be a JSON object");
  static const std::vector<std::string> kFields = {"name",
                                                   "description",
                                                   "kind",
                                                   "system",
                                                   "user",
                                                   "criteria",
                                                   "needs_reference",
                                                   "response_format",
                                                   "temperature",
                                                   "max_tokens",
                                                   "expected_reply_tokens",
                                                   "seed"};
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (std::find(kFields.begin(), kFields.end(), it.key()) == kFields.end()) {
      throw_invalid(label + ": unknown field '" + it.key() + "'" + did_you_mean(it.key(), kFields));
    }
  }
  Rubric r;
  r.name = get_string(doc, label, "name", true);
  r.description = get_string(doc, label, "description", false);
  std::string kind = get_string(doc, label, "kind", true);
  if (kind == "criteria") {
    r.kind = RubricKind::kCriteria;
  } else if (kind == "rating") {
    r.kind = RubricKind::kRating;
  } else if (kind == "pairwise") {
    r.kind = RubricKind::kPairwise;
  } else {
    throw_invalid(label + ": field 'kind' must be criteria, rating or pairwise, got '" + kind +
                  "'");
  }
  r.system = get_string(doc, label, "system", false);
  r.user = get_string(doc, label, "user", true);
  if (doc.contains("criteria")) {
    if (!doc["criteria"].is_array()) throw_invalid(label + ": field 'criteria' must be an array");
    for (size_t i = 0; i < doc["criteria"].size(); ++i) {
      const json& c = doc["criteria"][i];
      std::string at = label + ": criteria[" + std::to_string(i) + "]";
      if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) {
        throw_invalid(at + " must be an object with a \"name\" string");
      }
      Criterion crit{c["name"].get<std::string>(), c.value("min", 1), c.value("max", 3)};
      if (crit.name.empty() || crit.min >= crit.max) {
        throw_invalid(at + ": needs a non-empty name and min < max");
      }
      r.criteria.push_back(crit);
    }
  }
  if (r.kind == RubricKind::kPairwise && !r.criteria.empty()) {
    throw_invalid(label + ": a pairwise rubric has no criteria");
  }
  if (r.kind == RubricKind::kCriteria && r.criteria.empty()) {
    throw_invalid(label + ": field 'criteria' must list at least one criterion");
  }
  if (r.kind == RubricKind::kRating && r.criteria.size() != 1) {
    throw_invalid(label + ": a rating rubric has exactly one criterion");
  }
  try {
    r.needs_reference = doc.value("needs_reference", false);
    r.response_format = doc.value("response_format", std::string("json_object"));
    r.temperature = doc.value("temperature", 0.0);
    r.max_tokens = doc.value("max_tokens", 1000);
    r.expected_reply_tokens = doc.value("expected_reply_tokens", 0);
    if (doc.contains("seed") && !doc["seed"].is_null()) r.seed = doc["seed"].get<std::int64_t>();
  } catch (const json::exception& e) {
    throw_invalid(label + ": " + e.what());
  }
  if (r.response_format != "json_object" && r.response_format != "json_schema" &&
      r.response_format != "text") {
    throw_invalid(label + ": field 'response_format' must be json_object, json_schema or text");
  }
  if (r.kind != RubricKind::kCriteria && r.response_format != "text") {
    throw_invalid(label +
                  ": rating and pairwise rubrics reply in text ([[n]], [[A]]); set "
                  "response_format to text");
  }
  if (r.max_tokens < 1) throw_invalid(label + ": field 'max_tokens' must be positive");
  if (r.expected_reply_tokens < 0 || r.expected_reply_tokens > r.max_tokens) {
    throw_invalid(label + ": field 'expected_reply_tokens' must be in 0..max_tokens");
  }
  if (r.user.find("{{answer") == std::string::npos) {
    throw_invalid(label + ": field 'user' never mentions the answer ({{answer}})");
  }
  return r;
}

std::vector<std::string> builtin_rubric_names() {
  std::vector<std::string> out;
  for (const auto& [name, body] : kBuiltinRubrics) out.emplace_back(name);
  return out;
}

Rubric load_rubric(const std::string& name_or_path) {
  bool is_path = name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".json");
  if (!is_path) {
    for (const auto& [name, body] : kBuiltinRubrics) {
      if (name == name_or_path) {
        return parse_rubric(json::parse(body), "configs/judges/" + name_or_path + ".json");
      }
    }
    std::string names;
    for (const auto& n : builtin_rubric_names()) names += (names.empty() ? "" : ", ") + n;
    throw_not_found("judge rubric '" + name_or_path + "' is not a built-in rubric (" + names +
                    ") or a .json file" + did_you_mean(name_or_path, builtin_rubric_names()));
  }
  std::string text = read_file(name_or_path);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw_invalid(name_or_path + ": rubric is not valid JSON: " + e.what());
  }
  return parse_rubric(doc, name_or_path);
}

std::string render_template(std::string_view tmpl, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(tmpl.size() + 256);
  size_t pos = 0;
  while (pos < tmpl.size()) {
    size_t open = tmpl.find("{{", pos);
    if (open == std::string_view::npos) break;
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    auto it = vars.find(std::string(tmpl.substr(open + 2, close - open - 2)));
    out.append(tmpl.substr(pos, open - pos));
    if (it != vars.end()) {
      out += it->second;
    } else {
      out.append(tmpl.substr(open, close + 2 - open));
    }
    pos = close + 2;
  }
  out.append(tmpl.substr(pos));
  return out;
}

json response_format_json(const Rubric& rubric) {
  if (rubric.response_format == "json_object") return {{"type", "json_object"}};
  if (rubric.response_format != "json_schema") return nullptr;
  json props = json::object();
  json required = json::array();
  for (const auto& c : rubric.criteria) {
    props[c.name] = {
        {"type", "object"},
        {"properties", {{"analysis", {{"type", "string"}}}, {"score", {{"type", "integer"}}}}},
        {"required", {"analysis", "score"}},
        {"additionalProperties", false}};
    required.push_back(c.name);
  }
  return {{"type", "json_schema"},
          {"json_schema",
           {{"name", rubric.name},
            {"strict", true},
            {"schema",
             {{"type", "object"},
              {"properties", props},
              {"required", required},
              {"additionalProperties", false}}}}}};
}

}  // namespace assay::judges
