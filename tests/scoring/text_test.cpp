// scoring/text.h helpers against plain code-point forms: py_split against a
// split that decodes every code point and asks py_isspace, on seeded random strings long enough
// to cross 16-byte blocks, with Unicode whitespace, control characters and non-ASCII letters.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/utf8.h"
#include "scoring/text.h"

namespace assay::scoring {
namespace {

std::vector<std::string> split_by_code_points(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    char32_t cp = utf8::decode(s, pos);
    if (utf8::py_isspace(cp)) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.append(s.substr(start, pos - start));
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

TEST(TextTest, PySplitEqualsCodePointSplit) {
  const std::vector<std::string> pieces = {"a",
                                           "Bc",
                                           "word",
                                           "0",
                                           ".",
                                           " ",
                                           "  ",
                                           "\t",
                                           "\n",
                                           "\x0b",
                                           "\x1c",
                                           "\x1f",
                                           "\x7f",
                                           "\x01",
                                           "\xC2\xA0",
                                           "\xC2\x85",
                                           "\xE3\x80\x80",
                                           "\xE2\x80\x8B",
                                           "\xE2\x80\x80",
                                           "\xC3\xA9",
                                           "\xE4\xB8\xAD"};
  std::mt19937 rng(3);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> len(0, 60);
  std::vector<std::string_view> views;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s;
    for (int k = len(rng); k > 0; --k) s += pieces[pick(rng)];
    views.clear();
    py_split(s, views);
    std::vector<std::string> got(views.begin(), views.end());
    ASSERT_EQ(got, split_by_code_points(s)) << "[" << s << "]";
  }
}

}  // namespace
}  // namespace assay::scoring
