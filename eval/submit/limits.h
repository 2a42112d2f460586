// The limits evalctl checks (SageMaker's, S3's and AWS Batch's, as AWS-NOTES.md states them),
// each failure one message that names the field, the value and the rule it broke:
//   job.json: field 'image_uri' is 'repo/x…' (300 characters): at most 255 characters (SageMaker)
//   job.json: field 'name_prefix' is 'llm_eval': must match [a-zA-Z0-9](-*[a-zA-Z0-9])* (...)
//   --priority is 10000: must be in 0..9999 (AWS Batch schedulingPriority)
// `where` is the spec file ("job.json") or empty for a flag (then `field` is the flag).
#pragma once

#include <cstdint>
#include <string>

namespace assay::submit {

// `value` quoted for a message: at most 60 characters, then "…' (N characters)".
std::string quoted(const std::string& value);

// Throws assay::Error (invalid input): "<where>: field '<field>' <what>", or "<field> <what>".
[[noreturn]] void fail_rule(const std::string& where, const std::string& field,
                            const std::string& what);

// Length of `value` within min..max characters; else throws naming `rule` (e.g. "SageMaker").
void check_length(const std::string& where, const std::string& field, const std::string& value,
                  size_t min, size_t max, const std::string& rule);

// `value` matches the ECMAScript regex `pattern` in full; else throws naming the pattern and
// `meaning` (what it allows, in words).
void check_pattern(const std::string& where, const std::string& field, const std::string& value,
                   const std::string& pattern, const std::string& meaning);

// `value` within lo..hi; else throws naming the range and `rule`.
void check_range(const std::string& where, const std::string& field, int64_t value, int64_t lo,
                 int64_t hi, const std::string& rule);

// True when `text` matches the ECMAScript regex `pattern` in full.
bool full_match(const std::string& text, const std::string& pattern);

}  // namespace assay::submit
