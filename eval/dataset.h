// Test sets: JSONL or a JSON array of objects, with configurable field names, read into samples
// with stable ids (the dataset's id field, or a hash of the sample's task content). Every
// problem is reported as file:line and field.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace assay::eval {

// Which dataset field holds what (config keys fields.*).
struct DatasetFields {
  std::string id = "id";
  std::string instruction = "instruction";
  std::string input = "input";
  std::string reference = "output";    // the reference answer
  std::string prediction = "prediction";  // a pre-generated answer (evaluate score)
};

// Which fields a command needs; a missing required field is an error naming file:line:field.
struct DatasetNeeds {
  bool instruction = false;
  bool reference = true;
  bool prediction = false;
};

struct Sample {
  std::string id;           // the id field (string or integer), or "h" + 16 hex of the content hash
  std::string instruction;  // "" when absent and not required
  std::string input;        // "" when absent
  std::string reference;    // "" when absent and not required
  std::optional<std::string> prediction;
  size_t line = 0;          // 1-based line where the sample starts in its file
};

struct Dataset {
  std::string path;
  std::string sha256;  // of the file's bytes
  std::vector<Sample> samples;
};

// Reads a dataset. Throws assay::Error: not found (no file), invalid input (bad JSON at
// file:line, a record that is not an object, a missing or mistyped field, duplicate ids, an
// empty dataset).
Dataset load_dataset(const std::filesystem::path& path, const DatasetFields& fields,
                     const DatasetNeeds& needs);

// Parses dataset text (JSONL or a JSON array); `label` names it in messages. Same errors as
// load_dataset except not found. `sha256` of the result is the hash of `text`.
Dataset parse_dataset(const std::string& text, const std::string& label,
                      const DatasetFields& fields, const DatasetNeeds& needs);

}  // namespace assay::eval
