#include "judges/parse.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <regex>

#include <nlohmann/json.hpp>

namespace assay::judges {
using nlohmann::json;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A score from a JSON number or a string like "3", " 2 ", "3/3", "Score: 2".
bool read_score(const json& v, const Criterion& c, double& out, std::string& error) {
  if (v.is_number()) {
    out = v.get<double>();
  } else if (v.is_string()) {
    std::string s = v.get<std::string>();
    std::smatch m;
    static const std::regex kNum(
        R"(^\s*(?:score\s*[:=]?\s*)?(-?\d+(?:\.\d+)?)\s*(?:/\s*(\d+))?\s*$)", std::regex::icase);
    if (!std::regex_match(s, m, kNum)) {
      error = "score for '" + c.name + "' is not a number: \"" + s.substr(0, 40) + "\"";
      return false;
    }
    out = std::strtod(m[1].str().c_str(), nullptr);
    if (m[2].matched && std::atoi(m[2].str().c_str()) != c.max) {
      error = "score for '" + c.name + "' is out of " + m[2].str() + ", not of " +
              std::to_string(c.max);
      return false;
    }
  } else {
    error = "score for '" + c.name + "' is not a number (" + std::string(v.type_name()) + ")";
    return false;
  }
  if (!std::isfinite(out) || out != std::floor(out)) {
    error = "score for '" + c.name + "' is not an integer: " + num(out);
    return false;
  }
  if (out < c.min || out > c.max) {
    error = "score for '" + c.name + "' is out of range: " + num(out) + " not in [" +
            std::to_string(c.min) + ", " + std::to_string(c.max) + "]";
    return false;
  }
  return true;
}

ParsedReply parse_criteria(const Rubric& rubric, std::string_view content) {
  ParsedReply r;
  std::string obj_text = extract_json_object(content);
  if (obj_text.empty()) {
    r.error = "reply holds no JSON object";
    return r;
  }
  json doc = json::parse(obj_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    r.error = "reply's JSON does not parse";
    return r;
  }
  for (const auto& c : rubric.criteria) {
    const json* entry = nullptr;
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      if (lower(it.key()) == lower(c.name)) entry = &it.value();
    }
    if (entry == nullptr) {
      r.error = "missing criterion '" + c.name + "'";
      return r;
    }
    CriterionScore cs{c.name, 0, ""};
    const json* score = entry;
    if (entry->is_object()) {
      score = nullptr;
      for (auto it = entry->begin(); it != entry->end(); ++it) {
        std::string k = lower(it.key());
        if (k == "score" || k == "rating") score = &it.value();
        if ((k == "analysis" || k == "explanation" || k == "reason") && it.value().is_string()) {
          cs.analysis = it.value().get<std::string>();
        }
      }
      if (score == nullptr) {
        r.error = "criterion '" + c.name + "' has no score";
        return r;
      }
    }
    if (!read_score(*score, c, cs.score, r.error)) return r;
    r.scores.push_back(std::move(cs));
  }
  r.ok = true;
  return r;
}

ParsedReply parse_rating(const Rubric& rubric, std::string_view content) {
  ParsedReply r;
  std::string text(content);
  static const std::regex kDouble(R"(\[\[(\d+\.?\d*)\]\])");
  static const std::regex kSingle(R"(\[(\d+\.?\d*)\])");
  std::smatch m;
  if (!std::regex_search(text, m, kDouble) && !std::regex_search(text, m, kSingle)) {
    r.error = "reply holds no [[rating]]";
    return r;
  }
  const Criterion& c = rubric.criteria.front();
  CriterionScore cs{c.name, 0, text.substr(0, static_cast<size_t>(m.position(0)))};
  while (!cs.analysis.empty() && std::isspace(static_cast<unsigned char>(cs.analysis.back()))) {
    cs.analysis.pop_back();
  }
  if (!read_score(json(std::strtod(m[1].str().c_str(), nullptr)), c, cs.score, r.error)) return r;
  r.scores.push_back(std::move(cs));
  r.ok = true;
  return r;
}

ParsedReply parse_pairwise(std::string_view content) {
  ParsedReply r;
  std::string text(content);
  static const std::regex kVerdict(R"(\[\[([ABC])\]\])");
  char found = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kVerdict);
       it != std::sregex_iterator(); ++it) {
    char v = (*it)[1].str()[0];
    if (found != 0 && found != v) {
      r.error = "reply gives conflicting verdicts";
      return r;
    }
    found = v;
  }
  if (found == 0) {
    r.error = "reply holds no verdict [[A]], [[B]] or [[C]]";
    return r;
  }
  r.verdict = found;
  r.ok = true;
  return r;
}

}  // namespace

std::string extract_json_object(std::string_view text) {
  for (size_t start = text.find('{'); start != std::string_view::npos;
       start = text.find('{', start + 1)) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = start; i < text.size(); ++i) {
      char ch = text[i];
      if (in_string) {
        if (escaped) {
          escaped = false;
        } else if (ch == '\\') {
          escaped = true;
        } else if (ch == '"') {
          in_string = false;
        }
        continue;
      }
      if (ch == '"') {
        in_string = true;
      } else if (ch == '{') {
        ++depth;
      } else if (ch == '}' && --depth == 0) {
        std::string candidate(text.substr(start, i + 1 - start));
        if (json::accept(candidate)) return candidate;
        break;
      }
    }
    // Never closed: the rest of the text is inside a truncated object; an inner object is not
    // the reply.
    if (depth > 0) return {};
  }
  return {};
}

ParsedReply parse_reply(const Rubric& rubric, std::string_view content) {
  ParsedReply r;
  switch (rubric.kind) {
    case RubricKind::kCriteria:
      r = parse_criteria(rubric, content);
      break;
    case RubricKind::kRating:
      r = parse_rating(rubric, content);
      break;
    case RubricKind::kPairwise:
      r = parse_pairwise(content);
      break;
  }
  if (!r.ok) r.scores.clear();  // all or nothing: never a partial set of scores
  return r;
}

std::string format_instructions(const Rubric& rubric) {
  switch (rubric.kind) {
    case RubricKind::kCriteria: {
      std::string s = "a single JSON object and nothing else, with the keys ";
      for (size_t i = 0; i < rubric.criteria.size(); ++i) {
        const auto& c = rubric.criteria[i];
        s += (i ? ", " : "") + std::string("\"") + c.name +
             "\": {\"analysis\": \"...\", \"score\": " + "an integer from " +
             std::to_string(c.min) + " to " + std::to_string(c.max) + "}";
      }
      return s;
    }
    case RubricKind::kRating: {
      const auto& c = rubric.criteria.front();
      return "a short explanation followed by your rating from " + std::to_string(c.min) + " to " +
             std::to_string(c.max) + " written exactly as [[rating]], for example [[5]]";
    }
    case RubricKind::kPairwise:
      return "a short explanation followed by exactly one verdict: [[A]], [[B]] or [[C]] for a tie";
  }
  return {};
}

}  // namespace assay::judges
