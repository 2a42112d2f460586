#include "core/utf8.h"

#include <utf8proc.h>

#include <array>
#include <cstdint>

namespace assay::utf8 {

char32_t decode_slow(std::string_view s, size_t& pos) {
  utf8proc_int32_t cp = 0;
  auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + pos),
                            static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
  if (n <= 0) {
    pos += 1;
    return kReplacement;
  }
  pos += static_cast<size_t>(n);
  return static_cast<char32_t>(cp);
}

void append(std::string& out, char32_t cp) {
  if (!utf8proc_codepoint_valid(static_cast<utf8proc_int32_t>(cp))) cp = kReplacement;
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) out += decode(s, pos);
  return out;
}

std::string from_u32(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) append(out, cp);
  return out;
}

bool is_valid(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    utf8proc_int32_t cp = 0;
    auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + pos),
                              static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
    if (n <= 0) return false;
    pos += static_cast<size_t>(n);
  }
  return true;
}

namespace {
bool is_cased(char32_t cp) {
  auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}
bool is_case_ignorable(char32_t cp) {
  auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_ME || c == UTF8PROC_CATEGORY_CF ||
         c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_SK || cp == U'\'' || cp == U'.' ||
         cp == U':' || cp == 0x00B7 || cp == 0x2019;
}
}  // namespace

std::string py_lower(std::string_view s) {
  std::u32string cps = to_u32(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    char32_t cp = cps[i];
    if (cp < 0x80) {
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
      continue;
    }
    if (cp == 0x0130) {  // LATIN CAPITAL LETTER I WITH DOT ABOVE: SpecialCasing.txt
      out += 'i';
      append(out, 0x0307);
      continue;
    }
    if (cp == 0x03A3) {  // GREEK CAPITAL SIGMA: Final_Sigma context as CPython implements it
      bool before = false;
      for (size_t j = i; j-- > 0;) {
        if (is_case_ignorable(cps[j])) continue;
        before = is_cased(cps[j]);
        break;
      }
      bool after = false;
      for (size_t j = i + 1; j < cps.size(); ++j) {
        if (is_case_ignorable(cps[j])) continue;
        after = is_cased(cps[j]);
        break;
      }
      append(out, before && !after ? 0x03C2 : 0x03C3);
      continue;
    }
    append(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
  return out;
}

bool py_isspace(char32_t cp) {
  switch (cp) {
    // clang-format off
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      // clang-format on
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {
bool alnum_category(char32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    // clang-format off
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      // clang-format on
      return true;
    default:
      return false;
  }
}

// alnum_category for the Basic Multilingual Plane as a bitset (8 KiB, made on first use, ~1 ms):
// the scorers ask per code point, and utf8proc's lookup was a visible share of SQuAD F1.
struct BmpAlnum {
  std::array<std::uint64_t, 0x10000 / 64> bits{};
  BmpAlnum() {
    for (char32_t cp = 0; cp < 0x10000; ++cp)
      if (alnum_category(cp)) bits[cp / 64] |= std::uint64_t{1} << (cp % 64);
  }
};
}  // namespace

bool py_isalnum(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
  }
  if (cp < 0x10000) {
    static const BmpAlnum table;
    return (table.bits[cp / 64] >> (cp % 64)) & 1;
  }
  return alnum_category(cp);
}

bool py_isword(char32_t cp) {
  return cp == U'_' || py_isalnum(cp);
}

}  // namespace assay::utf8
