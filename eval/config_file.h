// Reading a run config file: JSON, or YAML (`.yaml`/`.yml`) with the same schema. Both give the
// document and the line of every key, so that schema errors name `file:line`, and both refuse a
// key given twice in one object (no silent last-one-wins).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace assay::eval {

struct ConfigFile {
  nlohmann::json value;  // the document: always an object
  // 1-based line of every key, by path: "bootstrap.seed", "models[1].name".
  std::map<std::string, size_t> lines;
};

// True for a `.yaml` or `.yml` file name (any case).
bool is_yaml_config(const std::filesystem::path& file);

// Parses `text`, the contents of the file named `label`: as YAML when is_yaml_config(label),
// else as JSON. YAML scalars take the type YAML 1.2's core schema gives them (`true`, `64`,
// `0.5`, `~`; anything quoted is a string), so a value has the same JSON type either way.
// Throws assay::Error (invalid input) naming the file and, where known, the line: a syntax error
// ("run.yaml:3: config is not valid YAML: ..."), a duplicate key ("run.json:7: duplicate key
// 'bootstrap.seed' (first on line 3)"), a document that is not an object, a non-string YAML key,
// an unsupported YAML tag, a number that is not finite, or nesting deeper than 64 levels.
ConfigFile parse_config_file(const std::string& label, const std::string& text);

}  // namespace assay::eval
