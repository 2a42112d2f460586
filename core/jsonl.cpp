#include "core/jsonl.h"

#include "core/error.h"
#include "core/fs.h"

namespace assay {
namespace {

bool is_blank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at line 1, column
// 5: ..."; keep the part after the position, which says what was wrong.
std::string short_reason(const nlohmann::json::exception& e) {
  std::string what = e.what();
  auto pos = what.find("column ");
  if (pos != std::string::npos) {
    auto colon = what.find(": ", pos);
    if (colon != std::string::npos) {
      return what.substr(pos, colon - pos) + ": " + what.substr(colon + 2);
    }
  }
  return what;
}

}  // namespace

JsonlContents parse_jsonl(std::string_view text, std::string_view label, TornTail policy) {
  JsonlContents out;
  size_t pos = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // UTF-8 BOM
  size_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    size_t nl = text.find('\n', pos);
    bool has_newline = nl != std::string_view::npos;
    size_t end = has_newline ? nl : text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t next = has_newline ? nl + 1 : text.size();
    if (is_blank(line)) {
      pos = next;
      if (has_newline) out.valid_bytes = next;
      continue;
    }
    try {
      out.records.push_back({nlohmann::json::parse(line), line_no});
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range (1e999)
      if (!has_newline) {
        if (policy == TornTail::kDrop) {
          out.torn_tail_line = line_no;
          return out;
        }
        throw_invalid(std::string(label) + ":" + std::to_string(line_no) +
                      ": last line is incomplete (no newline at end and not valid JSON; was the "
                      "file truncated by a crashed writer?): " + short_reason(e));
      }
      throw_invalid(std::string(label) + ":" + std::to_string(line_no) +
                    ": bad JSON: " + short_reason(e));
    }
    pos = next;
    out.valid_bytes = next;
  }
  return out;
}

JsonlContents read_jsonl(const std::filesystem::path& path, TornTail policy) {
  return parse_jsonl(read_file(path), path.string(), policy);
}

std::string to_jsonl_line(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace assay
