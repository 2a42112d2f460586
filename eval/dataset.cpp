#include "eval/dataset.h"

#include <map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/sha256.h"

namespace assay::eval {
namespace {

using nlohmann::json;

size_t line_of(std::string_view text, size_t pos) {
  size_t line = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

// Splits a JSON array document into its top-level elements with their starting lines, so each
// element can be reported by line. The document has already been parsed once (valid JSON).
std::vector<JsonlRecord> split_array(const std::string& text) {
  std::vector<JsonlRecord> out;
  size_t i = text.find('[');
  ASSAY_CHECK(i != std::string::npos);
  ++i;
  int depth = 0;
  bool in_string = false;
  size_t start = std::string::npos;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (start == std::string::npos && c != ' ' && c != '\n' && c != '\r' && c != '\t' &&
        c != ',' && c != ']') {
      start = i;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    } else if ((c == ',' || c == ']') && depth == 0) {
      if (start != std::string::npos) {
        out.push_back({json::parse(text.substr(start, i - start)), line_of(text, start)});
        start = std::string::npos;
      }
      if (c == ']') break;
    }
  }
  return out;
}

std::vector<JsonlRecord> read_records(const std::string& text, const std::string& label) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) first = text.find_first_not_of(" \t\r\n", 3);
  if (first != std::string::npos && text[first] == '[') {
    std::string body = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? text.substr(3) : text;
    try {
      json whole = json::parse(body);
      if (!whole.is_array()) throw_invalid(label + ": expected a JSON array of samples");
    } catch (const json::parse_error& e) {
      throw_invalid(label + ":" + std::to_string(line_of(body, e.byte > 0 ? e.byte - 1 : 0)) +
                    ": bad JSON: " + e.what());
    } catch (const json::exception& e) {  // e.g. a number out of range (1e999)
      throw_invalid(label + ": bad JSON: " + e.what());
    }
    return split_array(body);
  }
  return parse_jsonl(text, label, TornTail::kError).records;
}

// Reads a text field: absent/null -> nullopt; a string -> it; anything else -> error.
std::optional<std::string> text_field(const json& rec, const std::string& field,
                                      const std::string& at) {
  auto it = rec.find(field);
  if (it == rec.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    throw_invalid(at + ": field '" + field + "' must be a string, got " + it->type_name());
  }
  return it->get<std::string>();
}

std::string require(const json& rec, const std::string& field, const std::string& at,
                    const char* role) {
  auto v = text_field(rec, field, at);
  if (!v) {
    throw_invalid(at + ": missing field '" + field + "' (" + role +
                  "; set fields.* in the config or the matching flag to use another name)");
  }
  return *v;
}

}  // namespace

Dataset load_dataset(const std::filesystem::path& path, const DatasetFields& fields,
                     const DatasetNeeds& needs) {
  return parse_dataset(read_file(path), path.string(), fields, needs);
}

Dataset parse_dataset(const std::string& text, const std::string& label,
                      const DatasetFields& fields, const DatasetNeeds& needs) {
  Dataset ds;
  ds.path = label;
  ds.sha256 = sha256_hex(text);
  std::vector<JsonlRecord> records = read_records(text, ds.path);
  std::map<std::string, size_t> seen_ids;  // id -> line
  std::map<std::string, int> hash_counts;
  for (const auto& rec : records) {
    std::string at = ds.path + ":" + std::to_string(rec.line);
    if (!rec.value.is_object()) {
      throw_invalid(at + ": each sample must be a JSON object, got " + rec.value.type_name());
    }
    Sample s;
    s.line = rec.line;
    if (needs.instruction) {
      s.instruction = require(rec.value, fields.instruction, at, "the instruction");
    } else {
      s.instruction = text_field(rec.value, fields.instruction, at).value_or("");
    }
    s.input = text_field(rec.value, fields.input, at).value_or("");
    if (needs.reference) {
      s.reference = require(rec.value, fields.reference, at, "the reference answer");
    } else {
      s.reference = text_field(rec.value, fields.reference, at).value_or("");
    }
    if (needs.prediction) {
      s.prediction = require(rec.value, fields.prediction, at, "the prediction to score");
    } else {
      s.prediction = text_field(rec.value, fields.prediction, at);
    }
    auto id_it = rec.value.find(fields.id);
    if (id_it != rec.value.end() && !id_it->is_null()) {
      if (id_it->is_string()) {
        s.id = id_it->get<std::string>();
      } else if (id_it->is_number_integer()) {
        s.id = std::to_string(id_it->get<long long>());
      } else {
        throw_invalid(at + ": field '" + fields.id + "' must be a string or an integer, got " +
                      id_it->type_name());
      }
      if (s.id.empty()) throw_invalid(at + ": field '" + fields.id + "' is empty");
      auto [it, inserted] = seen_ids.emplace(s.id, s.line);
      if (!inserted) {
        throw_invalid(at + ": duplicate id '" + s.id + "' (first at line " +
                      std::to_string(it->second) + ")");
      }
    } else {
      // Hash of the task content (not the prediction), so the same question gets the same id in
      // every system's results and paired comparisons line up.
      std::string h = "h" + sha256_hex(s.instruction + '\x1f' + s.input + '\x1f' + s.reference)
                                .substr(0, 16);
      int n = ++hash_counts[h];
      s.id = n == 1 ? h : h + "-" + std::to_string(n);
      auto [it, inserted] = seen_ids.emplace(s.id, s.line);
      if (!inserted) {
        throw_invalid(at + ": generated id '" + s.id + "' collides with the id at line " +
                      std::to_string(it->second) + "; give the samples explicit ids");
      }
    }
    ds.samples.push_back(std::move(s));
  }
  if (ds.samples.empty()) throw_invalid(ds.path + ": the dataset holds no samples");
  return ds;
}

}  // namespace assay::eval
