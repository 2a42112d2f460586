// JSON Lines: one JSON value per line. The reader accepts CRLF, a UTF-8 BOM, blank lines and a
// last line without '\n'; it reports a corrupt line as `file:line` and tells a torn last line
// (a writer that crashed mid-line: no final '\n' and not valid JSON) apart from a corrupt middle
// line, so resumable outputs can drop the torn tail while inputs refuse it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay {

struct JsonlRecord {
  nlohmann::json value;
  size_t line = 0;  // 1-based line number in the file
};

struct JsonlContents {
  std::vector<JsonlRecord> records;
  // Line number of a torn last line that was dropped (policy kDrop); empty when none.
  std::optional<size_t> torn_tail_line;
  // Bytes up to and including the last complete line: truncate here before appending again.
  std::uint64_t valid_bytes = 0;
};

enum class TornTail {
  kError,  // a torn last line is an error (inputs written by people or other tools)
  kDrop,   // a torn last line is dropped and reported in torn_tail_line (our own resumable files)
};

// Parses JSONL text. `label` names the source in messages ("data/test.jsonl"). Throws
// assay::Error (invalid input) "label:line: ..." for a corrupt line.
JsonlContents parse_jsonl(std::string_view text, std::string_view label, TornTail policy);

// Reads and parses a JSONL file. Throws assay::Error (not found / i/o / invalid input) naming it.
JsonlContents read_jsonl(const std::filesystem::path& path, TornTail policy);

// Serialises one value as a single JSONL line (no newline), UTF-8 kept as is. Invalid UTF-8 in
// strings is replaced by U+FFFD rather than throwing.
std::string to_jsonl_line(const nlohmann::json& value);

}  // namespace assay
