#include "eval/config_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <vector>

#include "core/error.h"

namespace assay::eval {
namespace {

using nlohmann::json;

constexpr size_t kMaxDepth = 64;        // no run config nests deeper than a few levels
constexpr size_t kMaxValues = 100'000;  // YAML aliases can make a small file expand hugely

// "file:line" or, without a line, "file".
std::string at(const std::string& label, size_t line) {
  return line > 0 ? label + ":" + std::to_string(line) : label;
}

// Records the line of the key at `path`, refusing a key already given in the same object.
void record_key(ConfigFile& out, const std::string& label, const std::string& path, size_t line) {
  auto [it, inserted] = out.lines.emplace(path, line);
  if (!inserted) {
    throw_invalid(at(label, line) + ": duplicate key '" + path + "' (first on line " +
                  std::to_string(it->second) + ")");
  }
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string item_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

// 1-based line of byte offset `pos` in `text`.
size_t line_of(const std::string& text, size_t pos) {
  pos = std::min(pos, text.size());
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + pos, '\n'));
}

ConfigFile parse_json(const std::string& label, const std::string& text) {
  ConfigFile out;
  try {
    out.value = json::parse(text);
  } catch (const json::parse_error& e) {
    throw_invalid(label + ":" + std::to_string(line_of(text, e.byte > 0 ? e.byte - 1 : 0)) +
                  ": config is not valid JSON: " + e.what());
  } catch (const json::exception& e) {  // e.g. a number out of range (1e999)
    throw_invalid(label + ": config is not valid JSON: " + e.what());
  }
  if (!out.value.is_object()) throw_invalid(label + ": config must be a JSON object");

  // The text is valid JSON now: one pass over its structure finds every key and its line.
  struct Frame {
    bool object;
    std::string path;
    size_t index = 0;      // arrays: the current item
    bool want_key = true;  // objects: the next string is a key
    std::string key_path;  // objects: the path of the last key
  };
  std::vector<Frame> stack;
  size_t line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '"') {
      size_t end = i + 1;
      while (text[end] != '"') end += text[end] == '\\' ? 2 : 1;  // raw newlines are invalid
      Frame& f = stack.back();
      if (f.object && f.want_key) {
        f.key_path =
            child_path(f.path, json::parse(text.substr(i, end - i + 1)).get<std::string>());
        record_key(out, label, f.key_path, line);
        f.want_key = false;
      }
      i = end;
    } else if (c == '{' || c == '[') {
      if (stack.size() >= kMaxDepth) {
        throw_invalid(at(label, line) + ": config nests deeper than " + std::to_string(kMaxDepth) +
                      " levels");
      }
      std::string path;
      if (!stack.empty()) {
        const Frame& f = stack.back();
        path = f.object ? f.key_path : item_path(f.path, f.index);
      }
      stack.push_back({c == '{', std::move(path), 0, true, {}});
    } else if (c == '}' || c == ']') {
      stack.pop_back();
    } else if (c == ',') {
      Frame& f = stack.back();
      if (f.object) {
        f.want_key = true;
      } else {
        ++f.index;
      }
    }
  }
  return out;
}

// YAML to JSON, keeping the line of every key.
class YamlReader {
 public:
  YamlReader(const std::string& label, ConfigFile& out) : label_(label), out_(out) {}

  json convert(const YAML::Node& node, const std::string& path, size_t depth) {
    size_t line = node.Mark().is_null() ? 0 : static_cast<size_t>(node.Mark().line) + 1;
    if (depth > kMaxDepth) {
      throw_invalid(at(label_, line) + ": config nests deeper than " + std::to_string(kMaxDepth) +
                    " levels");
    }
    if (++values_ > kMaxValues) {
      throw_invalid(label_ + ": config expands to more than " + std::to_string(kMaxValues) +
                    " values (YAML aliases?)");
    }
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        json obj = json::object();
        for (const auto& pair : node) {  // `pair` lives for the body; `it->first` would not
          YAML::Node key = pair.first;
          size_t key_line = key.Mark().is_null() ? line : static_cast<size_t>(key.Mark().line) + 1;
          if (!key.IsScalar()) throw_invalid(at(label_, key_line) + ": keys must be strings");
          std::string key_path = child_path(path, key.Scalar());
          record_key(out_, label_, key_path, key_line);
          obj[key.Scalar()] = convert(pair.second, key_path, depth + 1);
        }
        return obj;
      }
      case YAML::NodeType::Sequence: {
        json arr = json::array();
        for (size_t i = 0; i < node.size(); ++i) {
          arr.push_back(convert(node[i], item_path(path, i), depth + 1));
        }
        return arr;
      }
      case YAML::NodeType::Scalar:
        return scalar(node, path, line);
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
    }
    return nullptr;
  }

 private:
  // A scalar's value: quoted and block scalars are strings; plain ones resolve as YAML 1.2's
  // core schema says; `!!str`, `!!int`, `!!float`, `!!bool` and `!!null` force a type.
  json scalar(const YAML::Node& node, const std::string& path, size_t line) {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    const std::string where = at(label_, line) + ": key '" + path + "': ";
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;
    json v = resolve_plain(text, where);
    if (tag == "?") return v;
    if (tag == "tag:yaml.org,2002:int" && v.is_number_integer()) return v;
    if (tag == "tag:yaml.org,2002:float" && v.is_number()) return v.get<double>();
    if (tag == "tag:yaml.org,2002:bool" && v.is_boolean()) return v;
    if (tag == "tag:yaml.org,2002:null" && v.is_null()) return v;
    throw_invalid(where + "'" + text + "' does not fit the YAML tag '" + tag + "'");
  }

  static json resolve_plain(const std::string& text, const std::string& where) {
    static const std::regex kDecimal("[-+]?[0-9]+");
    static const std::regex kOctal("0o[0-7]+");
    static const std::regex kHex("0x[0-9a-fA-F]+");
    static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    static const std::regex kSpecial("[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
      return nullptr;
    }
    const bool octal = std::regex_match(text, kOctal), hex = std::regex_match(text, kHex);
    if (octal || hex || std::regex_match(text, kDecimal)) {
      errno = 0;
      long long v = std::strtoll(text.c_str() + (octal ? 2 : 0), nullptr,
                                 octal ? 8
                                 : hex ? 16
                                       : 10);
      if (errno != ERANGE) return v;
      if (octal || hex) throw_invalid(where + "'" + text + "' is out of the integer range");
      // Too large for an integer: a number, as a JSON parser reads it.
    } else if (std::regex_match(text, kSpecial)) {
      throw_invalid(where + "'" + text + "' is not a finite number");
    } else if (!std::regex_match(text, kFloat)) {
      return text;
    }
    double v = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v)) throw_invalid(where + "'" + text + "' is not a finite number");
    return v;
  }

  const std::string& label_;
  ConfigFile& out_;
  size_t values_ = 0;
};

ConfigFile parse_yaml(const std::string& label, const std::string& text) {
  ConfigFile out;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    throw_invalid(at(label, e.mark.is_null() ? 0 : static_cast<size_t>(e.mark.line) + 1) +
                  ": config is not valid YAML: " + e.msg);
  }
  if (docs.size() > 1) {
    throw_invalid(label + ": config must be one YAML document, found " +
                  std::to_string(docs.size()));
  }
  if (docs.empty() || !docs[0].IsMap()) throw_invalid(label + ": config must be a YAML mapping");
  out.value = YamlReader(label, out).convert(docs[0], "", 0);
  return out;
}

}  // namespace

bool is_yaml_config(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".yaml" || ext == ".yml";
}

ConfigFile parse_config_file(const std::string& label, const std::string& text) {
  return is_yaml_config(label) ? parse_yaml(label, text) : parse_json(label, text);
}

}  // namespace assay::eval
