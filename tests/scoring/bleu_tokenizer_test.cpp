// The one-pass 13a tokenizer that bleu_stats uses (tokenize_13a_fast) against two references:
// the whole-line multi-pass form (tokenize_13a) and sacrebleu's regexes transcribed literally
// into std::regex (tokenizer_13a.py + tokenizer_re.py of sacrebleu 2.6.0), on seeded random
// strings built from the characters the rules care about (digits, '.', ',', '-', the symbol
// class, entities, "<skipped>", newlines, Unicode whitespace, non-ASCII letters). Also
// bleu_stats' n-gram counts against plain counting of those tokens.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "scoring/bleu.h"
#include "scoring/text.h"

namespace assay::scoring {
namespace {

void py_replace(std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  size_t last = 0, pos;
  while ((pos = s.find(from, last)) != std::string::npos) {
    out.append(s, last, pos - last);
    out += to;
    last = pos + from.size();
  }
  out.append(s, last);
  s = out;
}

// sacrebleu Tokenizer13a.__call__ followed by TokenizerRegexp, then str.split().
std::vector<std::string> regex_13a(std::string line) {
  py_replace(line, "<skipped>", "");
  py_replace(line, "-\n", "");
  py_replace(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    py_replace(line, "&quot;", "\"");
    py_replace(line, "&amp;", "&");
    py_replace(line, "&lt;", "<");
    py_replace(line, "&gt;", ">");
  }
  line = " " + line + " ";
  static const std::regex kSymbols(R"(([{-~\[-` -&(-+:-@/]))");
  static const std::regex kPeriodComma1(R"(([^0-9])([\.,]))");
  static const std::regex kPeriodComma2(R"(([\.,])([^0-9]))");
  static const std::regex kDash(R"(([0-9])(-))");
  line = std::regex_replace(line, kSymbols, " $1 ");
  line = std::regex_replace(line, kPeriodComma1, "$1 $2 ");
  line = std::regex_replace(line, kPeriodComma2, " $1 $2");
  line = std::regex_replace(line, kDash, "$1 $2 ");
  std::vector<std::string_view> views;
  py_split(line, views);
  return {views.begin(), views.end()};
}

TEST(BleuTokenizerTest, OnePassEqualsMultiPassAndTheRegexes) {
  const std::vector<std::string> pieces = {"a",
                                           "Zed",
                                           "0",
                                           "9",
                                           "12",
                                           ".",
                                           ",",
                                           "-",
                                           "'",
                                           "&",
                                           "<",
                                           ">",
                                           "/",
                                           ":",
                                           "$",
                                           "(",
                                           "]",
                                           "`",
                                           "~",
                                           "_",
                                           " ",
                                           "  ",
                                           "\t",
                                           "\n",
                                           "\r",
                                           "\x1c",
                                           "\xC2\xA0",
                                           "\xE3\x80\x80",
                                           "\xE2\x80\x8B",
                                           "\xC3\xA9",
                                           "\xE4\xB8\xAD",
                                           "&amp;",
                                           "&quot;",
                                           "&lt;",
                                           "&gt;",
                                           "<skipped>",
                                           "-\n",
                                           "x.y",
                                           "1,000",
                                           "3-4",
                                           "e.g.",
                                           "...",
                                           "U.S.",
                                           "--",
                                           "-1",
                                           "1.",
                                           ".5",
                                           ",a",
                                           "a,"};
  std::mt19937 rng(20261202);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> short_len(0, 24), long_len(0, 90);
  int checked = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    auto& len = iter % 4 == 3 ? long_len : short_len;
    std::string s;
    for (int k = len(rng); k > 0; --k) s += pieces[pick(rng)];
    auto expected = regex_13a(s);
    ASSERT_EQ(tokenize_13a(s), expected) << "multi-pass, input: [" << s << "]";
    ASSERT_EQ(tokenize_13a_fast(s), expected) << "one-pass, input: [" << s << "]";
    ++checked;
  }
  EXPECT_EQ(checked, 20000);
}

TEST(BleuTokenizerTest, KnownSplits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(tokenize_13a_fast("Hello, world. 1,000.5 3-4 x-y"),
            (V{"Hello", ",", "world", ".", "1,000.5", "3", "-", "4", "x-y"}));
  EXPECT_EQ(tokenize_13a_fast("a&amp;b <skipped> c-\nd"), (V{"a", "&", "b", "cd"}));
  EXPECT_EQ(tokenize_13a_fast(""), V{});
  // Invalid UTF-8 becomes U+FFFD, as everywhere in scoring/.
  EXPECT_EQ(tokenize_13a_fast("caf\xE9."), (V{"caf\xEF\xBF\xBD", "."}));
}

// The one-pass scan skips plain bytes 16 at a time: every byte value, at every offset of a
// 16-byte block, inside and between long plain runs.
TEST(BleuTokenizerTest, EveryByteInsideLongRuns) {
  for (int b = 0; b < 256; ++b) {
    for (int offset = 0; offset < 40; ++offset) {
      std::string s = std::string(static_cast<size_t>(offset), 'w') + static_cast<char>(b) +
                      "xyzXYZ0123'abcdefghijklmnop" + static_cast<char>(b) + "q";
      ASSERT_EQ(tokenize_13a_fast(s), tokenize_13a(s)) << "byte " << b << " offset " << offset;
    }
  }
}

// bleu_stats (prefix-id table, or hash tables for pairs too large for it) against plain counting
// of the 13a tokens' n-grams with std::map.
void expect_plain_counts(const std::string& hyp, const std::string& ref) {
  const std::vector<std::string> h = tokenize_13a(hyp), r = tokenize_13a(ref);
  BleuStats st = bleu_stats(hyp, ref);
  ASSERT_EQ(st.sys_len, static_cast<std::int64_t>(h.size()));
  ASSERT_EQ(st.ref_len, static_cast<std::int64_t>(r.size()));
  for (size_t n = 1; n <= 4; ++n) {
    std::map<std::vector<std::string>, std::int64_t> hc, rc;
    for (size_t i = 0; i + n <= h.size(); ++i) ++hc[{h.begin() + i, h.begin() + i + n}];
    for (size_t i = 0; i + n <= r.size(); ++i) ++rc[{r.begin() + i, r.begin() + i + n}];
    std::int64_t match = 0;
    for (const auto& [g, c] : hc) {
      auto it = rc.find(g);
      if (it != rc.end()) match += std::min(c, it->second);
    }
    ASSERT_EQ(st.counts[n - 1], match) << "order " << n << ": [" << hyp << "] vs [" << ref << "]";
    ASSERT_EQ(st.totals[n - 1], h.size() >= n ? static_cast<std::int64_t>(h.size() - n + 1) : 0);
  }
}

TEST(BleuStatsTest, CountsEqualPlainCounting) {
  std::mt19937 rng(17);
  const std::vector<std::string> words = {"a",     "b",     "the",      "cat", ".",  ",", "x-y",
                                          "1,000", "&amp;", "\xC3\xA9", "Zed", "  ", "\n"};
  std::uniform_int_distribution<size_t> pick(0, words.size() - 1);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string ref, hyp;
    for (size_t k = 0, len = rng() % 40; k < len; ++k) ref += words[pick(rng)] + " ";
    hyp = ref.substr(0, ref.size() / 2);
    for (size_t k = 0, len = rng() % 20; k < len; ++k) hyp += words[pick(rng)] + " ";
    expect_plain_counts(hyp, ref);
  }
  // 6000 tokens, ~3000 distinct: (6000 + 1) * (3000 + 1) table entries is past the limit.
  std::string ref, hyp;
  for (int k = 0; k < 6000; ++k) ref += "w" + std::to_string(rng() % 3000) + " ";
  hyp = ref.substr(ref.size() / 3);
  for (int k = 0; k < 500; ++k) hyp += "w" + std::to_string(rng() % 6000) + " ";
  expect_plain_counts(hyp, ref);
}

TEST(BleuTokenizerTest, LongLineEqualsMultiPass) {
  std::string s;
  for (int i = 0; i < 20000; ++i) s += (i % 7 == 0 ? "1,2-3. " : "word, x.y- ");
  EXPECT_EQ(tokenize_13a_fast(s), tokenize_13a(s));
}

}  // namespace
}  // namespace assay::scoring
