#include "core/utf8.h"

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <cstdint>
#include <string>

namespace assay::utf8 {
namespace {

// The inline decoder against utf8proc's for every sequence of 1 to 3 bytes (all lead bytes, so
// also the 4-byte leads and the invalid ones it hands on), whole and cut short: code point and
// length, U+FFFD and one byte for what utf8proc refuses.
TEST(Utf8Test, InlineDecodeEqualsUtf8proc) {
  std::string buf(3, '\0');
  for (std::uint32_t x = 0; x < (1u << 24); ++x) {
    buf[0] = static_cast<char>(x >> 16);
    buf[1] = static_cast<char>(x >> 8);
    buf[2] = static_cast<char>(x);
    for (size_t len : {size_t{1}, size_t{2}, size_t{3}}) {
      if (len < 3 && (x & 0xFF) != 0) continue;  // shorter inputs: each prefix once
      if (len < 2 && (x & 0xFF00) != 0) continue;
      const std::string_view s(buf.data(), len);
      utf8proc_int32_t cp = 0;
      const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                      static_cast<utf8proc_ssize_t>(len), &cp);
      size_t pos = 0;
      const char32_t got = decode(s, pos);
      if (n <= 0) {
        ASSERT_EQ(got, kReplacement) << std::hex << x << " len " << len;
        ASSERT_EQ(pos, 1u) << std::hex << x << " len " << len;
      } else {
        ASSERT_EQ(got, static_cast<char32_t>(cp)) << std::hex << x << " len " << len;
        ASSERT_EQ(pos, static_cast<size_t>(n)) << std::hex << x << " len " << len;
      }
    }
  }
}

// py_isalnum (a bitset over the BMP) against utf8proc's general category for every code point:
// letters and numbers, as CPython's str.isalnum().
TEST(Utf8Test, IsAlnumEqualsCategoryEverywhere) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    const bool want = c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL ||
                      c == UTF8PROC_CATEGORY_LT || c == UTF8PROC_CATEGORY_LM ||
                      c == UTF8PROC_CATEGORY_LO || c == UTF8PROC_CATEGORY_ND ||
                      c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
    ASSERT_EQ(py_isalnum(cp), want) << std::hex << static_cast<std::uint32_t>(cp);
  }
}

// Expected values are what CPython 3.11 returns for the same calls.
TEST(Utf8Test, PyLowerUsesFullMappingAndFinalSigma) {
  EXPECT_EQ(py_lower("HeLLo"), "hello");
  EXPECT_EQ(py_lower("\xC4\xB0"), "i\xCC\x87");  // 'İ'.lower() == 'i̇'
  EXPECT_EQ(py_lower("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3"),
            "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82");                  // ΟΔΟΣ -> οδος
  EXPECT_EQ(py_lower("\xCE\xA3"), "\xCF\x83");                    // lone Σ -> σ
  EXPECT_EQ(py_lower("\xC3\x89T\xC3\x89"), "\xC3\xA9t\xC3\xA9");  // ÉTÉ -> été
}

TEST(Utf8Test, PySpaceMatchesStrSplit) {
  EXPECT_TRUE(py_isspace(U' '));
  EXPECT_TRUE(py_isspace(0x00A0));   // NBSP
  EXPECT_TRUE(py_isspace(0x3000));   // ideographic space
  EXPECT_TRUE(py_isspace(0x1F));     // unit separator
  EXPECT_FALSE(py_isspace(0x200B));  // zero-width space is not whitespace in Python
  EXPECT_FALSE(py_isspace(0xFEFF));
}

TEST(Utf8Test, PyWordExcludesCombiningMarks) {
  EXPECT_TRUE(py_isword(U'a'));
  EXPECT_TRUE(py_isword(U'_'));
  EXPECT_TRUE(py_isword(0x4E2D));   // 中
  EXPECT_TRUE(py_isword(0x0661));   // Arabic-Indic digit one
  EXPECT_FALSE(py_isword(0x0301));  // combining acute accent
  EXPECT_FALSE(py_isword(U'-'));
}

TEST(Utf8Test, DecodeReplacesInvalidBytesOneAtATime) {
  std::string s = "a\xff\xc3\xa9";
  EXPECT_EQ(to_u32(s), (std::u32string{U'a', kReplacement, 0xE9}));
  EXPECT_FALSE(is_valid(s));
  EXPECT_TRUE(is_valid("caf\xc3\xa9"));
  EXPECT_EQ(from_u32(U"caf\u00e9"), "caf\xc3\xa9");
}

}  // namespace
}  // namespace assay::utf8
