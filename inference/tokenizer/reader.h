// Checked access to tokenizer.json's fields for the parsers of its sections (normalizers,
// pre-tokenizers, decoders, post-processor, model): every error names the file and the JSON
// path. Internal to inference/tokenizer/.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace assay::inference::hf {

using nlohmann::json;

constexpr int32_t kMaxId = 1 << 24;  // ids above this are refused (no real vocabulary is near)

// Checked access to tokenizer.json fields; every error names the file and the JSON path.
class Reader {
 public:
  explicit Reader(std::string label) : label_(std::move(label)) {}
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw_invalid(label_ + ": " + where + ": " + what);
  }
  const json& object(const json& parent, const char* key, const std::string& where) const {
    const json& v = field(parent, key, where);
    if (!v.is_object()) fail(where + "." + key, "must be an object");
    return v;
  }
  const json& field(const json& parent, const char* key, const std::string& where) const {
    if (!parent.is_object()) fail(where, "must be an object");
    auto it = parent.find(key);
    if (it == parent.end()) fail(where, std::string("missing field '") + key + "'");
    return *it;
  }
  std::string string(const json& parent, const char* key, const std::string& where) const {
    const json& v = field(parent, key, where);
    if (!v.is_string()) fail(where + "." + key, "must be a string");
    return v.get<std::string>();
  }
  std::string type(const json& node, const std::string& where) const {
    return string(node, "type", where);
  }
  bool boolean(const json& parent, const char* key, bool fallback, const std::string& where) const {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(where + "." + key, "must be true or false");
    return it->get<bool>();
  }
  int64_t integer(const json& v, const std::string& where) const {
    if (!v.is_number_integer()) fail(where, "must be an integer");
    return v.get<int64_t>();
  }
  int32_t id(const json& v, const std::string& where) const {
    int64_t value = integer(v, where);
    if (value < 0 || value >= kMaxId)
      fail(where, "id " + std::to_string(value) + " is out of range");
    return static_cast<int32_t>(value);
  }
  const json& array(const json& parent, const char* key, const std::string& where) const {
    const json& v = field(parent, key, where);
    if (!v.is_array()) fail(where + "." + key, "must be an array");
    return v;
  }
  // A Replace/Split "pattern": {"String": s} or {"Regex": r}. Returns (is_regex, text).
  std::pair<bool, std::string> pattern(const json& node, const std::string& where) const {
    const json& p = object(node, "pattern", where);
    if (auto it = p.find("String"); it != p.end() && it->is_string())
      return {false, it->get<std::string>()};
    if (auto it = p.find("Regex"); it != p.end() && it->is_string())
      return {true, it->get<std::string>()};
    fail(where + ".pattern", "must be {\"String\": ...} or {\"Regex\": ...}");
  }
  const std::string& label() const { return label_; }

 private:
  std::string label_;
};

// Parses one section of the pipeline (normalizer, pre_tokenizer, decoder) into `out`: nothing for
// null, each member of a "Sequence" (the array node[key]) in turn, flattened, else
// out.push_back(parse_one(r, node, type, where)) for the node itself (parse_normalizer,
// parse_pre_tokenizer, parse_decoder).
template <typename T, typename ParseOne>
void parse_pipeline(const Reader& r, const json& node, const char* key, const std::string& where,
                    std::vector<T>& out, const ParseOne& parse_one) {
  if (node.is_null()) return;
  const std::string type = r.type(node, where);
  if (type != "Sequence") {
    out.push_back(parse_one(r, node, type, where));
    return;
  }
  const json& list = r.array(node, key, where);
  for (size_t i = 0; i < list.size(); ++i)
    parse_pipeline(r, list[i], key, where + "." + key + "[" + std::to_string(i) + "]", out,
                   parse_one);
}

}  // namespace assay::inference::hf
