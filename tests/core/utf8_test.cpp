#include "core/utf8.h"

#include <gtest/gtest.h>

namespace assay::utf8 {
namespace {

// Expected values are what CPython 3.11 returns for the same calls.
TEST(Utf8Test, PyLowerUsesFullMappingAndFinalSigma) {
  EXPECT_EQ(py_lower("HeLLo"), "hello");
  EXPECT_EQ(py_lower("\xC4\xB0"), "i\xCC\x87");                            // 'İ'.lower() == 'i̇'
  EXPECT_EQ(py_lower("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3"), "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82");  // ΟΔΟΣ -> οδος
  EXPECT_EQ(py_lower("\xCE\xA3"), "\xCF\x83");                             // lone Σ -> σ
  EXPECT_EQ(py_lower("\xC3\x89T\xC3\x89"), "\xC3\xA9t\xC3\xA9");           // ÉTÉ -> été
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
  EXPECT_TRUE(py_isword(0x4E2D));    // 中
  EXPECT_TRUE(py_isword(0x0661));    // Arabic-Indic digit one
  EXPECT_FALSE(py_isword(0x0301));   // combining acute accent
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
