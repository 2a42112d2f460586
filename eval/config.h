// The run configuration: a JSON or YAML file (eval/config_file.h), overridden by environment
// variables, overridden by flags (README.md, "Configuration"). Every key is declared once in a schema
// table (config.cpp), which gives its type, default, environment variables and whether it is a
// secret. Unknown keys are errors that suggest the nearest valid key. The resolved config, secrets
// redacted, is what the manifest records.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay::eval {

enum class ValueType { kString, kBool, kInt, kNumber, kArray, kObject };

// One configuration key. `path` is dotted ("bootstrap.seed"); the JSON file nests it.
struct ConfigKey {
  std::string path;
  ValueType type;
  nlohmann::json default_value;  // null: no default (unset)
  std::vector<std::string> env;  // environment variables, in priority order (first set wins)
  bool secret = false;           // redacted in the manifest and registered with the log redactor
  bool identity = true;          // part of the config hash (false for output dir, log level, ...)
  std::string help;
};

// The schema: every key Assay accepts.
const std::vector<ConfigKey>& config_keys();

// A value set by a layer other than the file, the environment and the flags.
struct ConfigOverride {
  std::string path;       // dotted key path; must be a key of config_keys()
  nlohmann::json value;   // already typed
  std::string origin;     // for messages and ResolvedConfig::origin, e.g. "hyperparameter k"
};

// Where a value came from, for messages. Layers, lowest first: defaults < container < file <
// hyperparameters < environment < flags.
struct ConfigSources {
  // The SageMaker container layout (eval/container.h): model, dataset, output folders.
  std::vector<ConfigOverride> container;
  std::optional<std::filesystem::path> file;  // the JSON or YAML (.yaml/.yml) config file, if any
  // SageMaker training-job hyperparameters (eval/container.h), parsed with parse_config_text.
  std::vector<ConfigOverride> hyperparameters;
  // Reads an environment variable; returns nullopt when unset. Defaults to std::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Flag values by dotted key path, already typed (a flag parser fills these).
  std::vector<std::pair<std::string, nlohmann::json>> flags;
};

class ResolvedConfig {
 public:
  // The value at a dotted path (null when unset).
  const nlohmann::json& at(const std::string& path) const;
  std::string get_string(const std::string& path) const;  // "" when unset
  bool get_bool(const std::string& path) const;
  long long get_int(const std::string& path) const;
  double get_number(const std::string& path) const;

  // The full nested config with secrets replaced by "***" (what manifest.json records).
  nlohmann::json redacted() const;
  // SHA-256 over the identity keys (not secrets, not output/log settings): two runs with the
  // same hash and the same inputs produce the same results.
  std::string identity_hash() const;
  // Identity keys whose values differ between two redacted configs, for refusal messages.
  static std::vector<std::string> changed_keys(const nlohmann::json& a, const nlohmann::json& b);
  // Where a key's value came from: "default", "file", "env NAME" or "flag".
  const std::string& origin(const std::string& path) const;

  std::map<std::string, nlohmann::json> values;  // dotted path -> value
  std::map<std::string, std::string> origins;    // dotted path -> origin
  std::string file_label;                        // the config file's path, or ""
};

// Resolves defaults < file < environment < flags. Throws assay::Error (invalid input) for a
// config file that is not valid JSON or YAML or gives a key twice (file:line), an unknown key
// (with a suggestion), a value of the wrong type (file:line and key), or an environment variable
// that does not parse (its name); (not found) for a missing config file.
ResolvedConfig resolve_config(const ConfigSources& sources);

// Parses `text` as the value of key `path`, as an environment variable or a SageMaker
// hyperparameter carries it (strings as they are, true/false/1/0, integers, numbers, comma lists
// with items trimmed, or a JSON array, a JSON object). `what` names the source in messages ("environment variable
// X"). Throws assay::Error (invalid input): an unknown key (with a suggestion) or a bad value.
nlohmann::json parse_config_text(const std::string& path, const std::string& text,
                                 const std::string& what);

// Strict boolean parsing for environment variables and hyperparameters: exactly true, false, 1
// or 0 (lowercase; "TRUE", "yes", "" refused). Throws assay::Error (invalid input) naming `what`.
bool parse_bool(const std::string& text, const std::string& what);

}  // namespace assay::eval
