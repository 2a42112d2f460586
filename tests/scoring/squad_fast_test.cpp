// The one-pass SQuAD normalisation behind squad_exact_match / squad_token_prf against the
// step-by-step squad_normalize (lower, remove_punc, remove_articles, white_space_fix, as in
// evaluate-v1.1.py) on seeded random strings: ASCII and non-ASCII, articles glued to
// punctuation and to non-ASCII letters, Unicode whitespace, special casing, invalid UTF-8.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/utf8.h"
#include "scoring/squad.h"
#include "scoring/squad_scan.h"
#include "testing/cpu_level.h"

namespace assay::scoring {
namespace {

// The levels the paths are written for (above what the CPU has, a level is the CPU's own).
constexpr cpu::Level kLevels[] = {cpu::Level::avx512, cpu::Level::avx2, cpu::Level::scalar};

TokenPrf reference_prf(std::string_view pred, std::string_view ref) {
  std::vector<std::string> p = squad_tokens(pred), r = squad_tokens(ref);
  std::map<std::string, int> count;
  for (const auto& t : p) ++count[t];
  int same = 0;
  for (const auto& t : r) {
    auto it = count.find(t);
    if (it != count.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  TokenPrf out;
  if (same == 0) return out;
  out.precision = 1.0 * same / static_cast<double>(p.size());
  out.recall = 1.0 * same / static_cast<double>(r.size());
  out.f1 = (2 * out.precision * out.recall) / (out.precision + out.recall);
  return out;
}

// At every level: `iters` random pairs of concatenated `pieces` (the first `short_iters` of up to
// 14 pieces, the rest of up to `long_max`; b is a with a quarter as many pieces inserted, so
// that overlaps are common), EM and P/R/F1 against the step-by-step form.
void check_random_pairs(const std::vector<std::string>& pieces, unsigned seed, int iters,
                        int short_iters, int long_max) {
  for (cpu::Level level : kLevels) {
    testing::ScopedCpuLevel cap(level);
    const char* at = cpu::level_name(level);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
    std::uniform_int_distribution<int> short_len(0, 14), long_len(0, long_max);
    for (int iter = 0; iter < iters; ++iter) {
      auto& len = iter < short_iters ? short_len : long_len;
      std::string a, b;
      for (int k = len(rng); k > 0; --k) a += pieces[pick(rng)];
      b = a;
      for (int k = len(rng) / 4; k > 0; --k) b.insert(rng() % (b.size() + 1), pieces[pick(rng)]);
      double em = squad_normalize(a) == squad_normalize(b) ? 1.0 : 0.0;
      ASSERT_EQ(squad_exact_match(a, b), em) << at << " [" << a << "] vs [" << b << "]";
      ASSERT_EQ(squad_exact_match(a, a), 1.0) << at << " [" << a << "]";
      TokenPrf got = squad_token_prf(a, b), want = reference_prf(a, b);
      ASSERT_EQ(got.precision, want.precision) << at << " [" << a << "] vs [" << b << "]";
      ASSERT_EQ(got.recall, want.recall) << at << " [" << a << "] vs [" << b << "]";
      ASSERT_EQ(got.f1, want.f1) << at << " [" << a << "] vs [" << b << "]";
    }
  }
}

// At every instruction-set level.
TEST(SquadFastTest, OnePassEqualsStepByStepNormalisation) {
  const std::vector<std::string> pieces = {"a",
                                           "an",
                                           "the",
                                           "The",
                                           "THE",
                                           "A",
                                           "x",
                                           "cat",
                                           "Dog",
                                           "9",
                                           "_",
                                           ".",
                                           ",",
                                           "'",
                                           "-",
                                           "!",
                                           "(",
                                           " ",
                                           "  ",
                                           "\t",
                                           "\n",
                                           "\x01",
                                           "\x7f",
                                           "\xC2\xA0",
                                           "\xE3\x80\x80",
                                           "\xE2\x80\x8B",
                                           "\xC3\xA9",
                                           "\xC3\x89",
                                           "\xC4\xB0",
                                           "\xCE\xA3",
                                           "\xE2\x80\x99",
                                           "\xE2\x80\x94",
                                           "\xE4\xB8\xAD",
                                           "\xEF\xBC\xA1",
                                           "\xE2\x84\xAA",
                                           "\xE9",
                                           "\xF0\x9F"};
  // Short strings, and long ones whose chunks straddle the 16- and 64-byte blocks.
  check_random_pairs(pieces, 5, 26000, 20000, 120);
}

// ASCII-only text (no control characters) takes the compacted path on CPUs with AVX-512 VBMI2
// or AVX2: punctuation squeezed out of whole 64-byte blocks, tokens = runs of non-whitespace.
// Checked against the step-by-step form with punctuation runs across block borders, chunks of
// only punctuation, articles glued to punctuation, tokens longer than 16 and than 64 bytes,
// at every instruction-set level (the scalar one takes the per-chunk paths).
TEST(SquadFastTest, AsciiCompactedPathEqualsStepByStep) {
  // clang-format off
  const std::vector<std::string> pieces = {
      "a", "an", "the", "The", "A", "AN", "x", "cat", "Dog", "9", "_", ".", ",", "'", "-", "!",
      "(", "...", "---", " ", "  ", "\t", "\n", "\x0b", "\x1c", "\x1f", "~", "{", "`", "@",
      "Supercalifragilistic", "abcdefghijklmnop", "abcdefghijklmnopq", "0123456789abcdef",
      std::string(70, 'x'), "The" + std::string(140, 'y') + "."};
  // clang-format on
  check_random_pairs(pieces, 11, 20000, 12000, 200);
}

// squad_token_prf's overlap paths (the AVX2 small-side keys when a side has at most 64 tokens,
// else the hash table; the hash table alone at the scalar level) against std::map counting, around
// the 64-token bound and with long tokens that share their first 8 or 16 bytes and their length.
TEST(SquadFastTest, OverlapPathsAroundTheBound) {
  // clang-format off
  const std::vector<std::string> words = {
      "cat",   "dog",   "a",     "owl",  "x",     "supercalifragilisticA", "supercalifragilisticB",
      "supercalifragilisticAB", "abcdefghijklmnoq", "abcdefghijklmnop", "abcdefghijklmno",
      "abcdefgh", "abcdefghi", "caf\xC3\xA9", "\xC3\x89t\xC3\xA9", "x\x01y", "x\x01z"};
  // clang-format on
  for (cpu::Level level : kLevels) {
    testing::ScopedCpuLevel cap(level);
    const char* at = cpu::level_name(level);
    std::mt19937 rng(17);
    std::uniform_int_distribution<size_t> pick(0, words.size() - 1);
    std::uniform_int_distribution<int> count(0, 140);
    for (int iter = 0; iter < 3000; ++iter) {
      std::string a, b;
      for (int k = count(rng); k > 0; --k) a += words[pick(rng)] + " ";
      for (int k = count(rng); k > 0; --k) b += words[pick(rng)] + " ";
      TokenPrf got = squad_token_prf(a, b), want = reference_prf(a, b);
      ASSERT_EQ(got.f1, want.f1) << at << " [" << a << "] vs [" << b << "]";
      ASSERT_EQ(got.precision, want.precision);
      ASSERT_EQ(got.recall, want.recall);
    }
  }
}

// The allocation-free lower-casing of the common non-ASCII chunks against utf8::py_lower, code
// point by code point over the whole of Unicode (alone and between ASCII capitals), and on
// invalid UTF-8 (which it must refuse).
TEST(SquadFastTest, SimpleLowerEqualsPyLower) {
  std::string out, cp_text;
  size_t taken = 0;
  for (char32_t cp = 0x80; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    cp_text.clear();
    utf8::append(cp_text, cp);
    for (const std::string& s : {cp_text, "AB" + cp_text + "Cd", cp_text + cp_text}) {
      if (squad::lower_simple(s, out)) {
        ++taken;
        ASSERT_EQ(out, utf8::py_lower(s)) << std::hex << static_cast<std::uint32_t>(cp);
      }
    }
  }
  EXPECT_GT(taken, 3 * 40000u);  // CJK, Hangul, Latin-1 and the rest do take it (~45k each)
  for (const std::string& bad : {std::string("\xC3"), std::string("a\xFF"),
                                 std::string("\xED\xA0\x80"), std::string("\xEF\xBF\xBD")})
    EXPECT_FALSE(squad::lower_simple(bad, out));
}

TEST(SquadFastTest, LongAndMixedStrings) {
  std::string ascii, mixed;
  for (int i = 0; i < 5000; ++i) {
    ascii += "The cat, an owl and a dog's bone. ";
    mixed += "The caf\xC3\xA9, an \xC3\x89t\xC3\xA9 a\xC2\xA0the bone. ";
  }
  EXPECT_EQ(squad_exact_match(ascii, ascii + " the"), 1.0);
  TokenPrf p = squad_token_prf(mixed, ascii), q = reference_prf(mixed, ascii);
  EXPECT_EQ(p.f1, q.f1);
  EXPECT_GT(q.f1, 0.0);
}

}  // namespace
}  // namespace assay::scoring
