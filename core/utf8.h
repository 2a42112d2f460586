// UTF-8 code points and the few Python `str` semantics that reference implementations (SQuAD,
// rouge-score, sacrebleu) depend on, so C++ can reproduce them exactly. Backed by utf8proc.
#pragma once

#include <string>
#include <string_view>

namespace assay::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// decode() for what its inline part does not take: utf8proc's decoder.
char32_t decode_slow(std::string_view s, size_t& pos);

// Decodes the code point starting at s[pos] and advances pos past it. An invalid or truncated
// sequence yields U+FFFD and advances one byte. Requires pos < s.size(). ASCII and well-formed
// 2- and 3-byte sequences are decoded inline (tested against utf8proc's decoder for every such
// byte sequence); the rest, and everything invalid, by decode_slow().
inline char32_t decode(std::string_view s, size_t& pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  const size_t left = s.size() - pos;
  if (p[0] < 0x80) {
    ++pos;
    return p[0];
  }
  if (left >= 2 && p[0] >= 0xC2 && p[0] <= 0xDF && (p[1] & 0xC0) == 0x80) {
    pos += 2;
    return static_cast<char32_t>((p[0] & 0x1F) << 6 | (p[1] & 0x3F));
  }
  if (left >= 3 && (p[0] & 0xF0) == 0xE0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
    const auto cp = static_cast<char32_t>((p[0] & 0x0F) << 12 | (p[1] & 0x3F) << 6 | (p[2] & 0x3F));
    if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {  // not overlong, not a surrogate
      pos += 3;
      return cp;
    }
  }
  return decode_slow(s, pos);
}

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
