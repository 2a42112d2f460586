// UTF-8 code points and the few Python `str` semantics that reference implementations (SQuAD,
// rouge-score, sacrebleu) depend on, so C++ can reproduce them exactly. Backed by utf8proc.
#pragma once

#include <string>
#include <string_view>

namespace assay::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// Decodes the code point starting at s[pos] and advances pos past it. An invalid or truncated
// sequence yields U+FFFD and advances one byte. Requires pos < s.size().
char32_t decode(std::string_view s, size_t& pos);

// Appends the UTF-8 encoding of `cp` (U+FFFD for values that are not scalar values).
void append(std::string& out, char32_t cp);

// Whole-string conversions; invalid input bytes become U+FFFD.
std::u32string to_u32(std::string_view s);
std::string from_u32(std::u32string_view s);

// True when `s` is well-formed UTF-8.
bool is_valid(std::string_view s);

// Python's str.lower(): full lowercase mapping (U+0130 -> "i\u0307") and the final-sigma rule.
std::string py_lower(std::string_view s);

// Python's str.isspace() for one code point: what str.split() with no argument splits on
// (includes U+00A0 and U+3000, not U+200B).
bool py_isspace(char32_t cp);

// Python's `re` \w for str patterns: letters, numbers (categories L*, N*) and '_'. Combining
// marks are not word characters.
bool py_isword(char32_t cp);

// Python's str.isalnum() for one code point (categories L*, N*).
bool py_isalnum(char32_t cp);

}  // namespace assay::utf8
