// chrF character statistics (dense-id fast path, and the general path for pairs with more than
// 255 distinct code points) against a plain std::map count of code-point n-grams, as sacrebleu's
// extract_all_char_ngrams + _get_match_statistics compute them, on seeded random strings.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/utf8.h"
#include "scoring/chrf.h"
#include "scoring/text.h"

namespace assay::scoring {
namespace {

std::u32string without_space(const std::string& s) {
  std::vector<std::string_view> words;
  py_split(s, words);
  std::u32string out;
  for (auto w : words) out += utf8::to_u32(w);
  return out;
}

// [hyp n-grams, ref n-grams, matches] for orders 1..max_n of two symbol sequences (code points
// or words), counted in std::maps.
template <typename Seq>
std::vector<std::int64_t> plain_stats(const Seq& h, const Seq& r, size_t max_n) {
  using Gram = std::vector<typename Seq::value_type>;
  std::vector<std::int64_t> out;
  for (size_t n = 1; n <= max_n; ++n) {
    std::map<Gram, std::int64_t> hc, rc;
    for (size_t i = 0; i + n <= h.size(); ++i) ++hc[Gram(h.begin() + i, h.begin() + i + n)];
    for (size_t i = 0; i + n <= r.size(); ++i) ++rc[Gram(r.begin() + i, r.begin() + i + n)];
    std::int64_t nh = h.size() >= n ? static_cast<std::int64_t>(h.size() - n + 1) : 0;
    std::int64_t nr = r.size() >= n ? static_cast<std::int64_t>(r.size() - n + 1) : 0;
    std::int64_t match = 0;
    for (const auto& [g, c] : hc) {
      auto it = rc.find(g);
      if (it != rc.end()) match += std::min(c, it->second);
    }
    out.push_back(nr > 0 ? nh : 0);
    out.push_back(nr);
    out.push_back(nh > 0 && nr > 0 ? match : 0);
  }
  return out;
}

// [hyp n-grams, ref n-grams, matches] for char orders 1..6.
std::vector<std::int64_t> map_stats(const std::string& hyp, const std::string& ref) {
  return plain_stats(without_space(hyp), without_space(ref), 6);
}

void expect_same(const std::string& hyp, const std::string& ref) {
  ChrfStats st = chrf_stats(hyp, ref, 0);
  std::vector<std::int64_t> got(st.values.begin(), st.values.begin() + 18);
  ASSERT_EQ(got, map_stats(hyp, ref)) << "[" << hyp << "] vs [" << ref << "]";
}

TEST(ChrfFastTest, CharStatisticsEqualPlainCounting) {
  std::mt19937 rng(7);
  // Small alphabets (dense path, many repeats) and 400 CJK code points (general path).
  std::vector<std::string> small = {"a", "b", "c", " ", "\xC3\xA9", "\xC2\xA0", ".", "ab"};
  std::vector<std::string> big;
  for (char32_t cp = 0x4E00; cp < 0x4E00 + 400; ++cp) {
    std::string s;
    utf8::append(s, cp);
    big.push_back(s);
  }
  big.push_back(" ");
  for (int iter = 0; iter < 3000; ++iter) {
    const auto& pool = iter % 3 == 2 ? big : small;
    std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
    size_t len = iter % 3 == 2 ? 300 + rng() % 200 : rng() % 40;
    std::string ref, hyp;
    for (size_t k = 0; k < len; ++k) ref += pool[pick(rng)];
    hyp = ref.substr(0, ref.size() / 2);
    for (size_t k = 0; k < len / 2; ++k) hyp += pool[pick(rng)];
    expect_same(hyp, ref);
  }
}

// The dense path indexes n-grams by prefix ids when (reference chars + 1) * (distinct chars + 1)
// is at most 2^21 entries and hashes them above that; both against plain counting, with many
// distinct chars (wide table rows) and with a reference long enough for the hash table.
TEST(ChrfFastTest, PrefixIdAndHashTablePathsAgree) {
  std::mt19937 rng(11);
  std::vector<std::string> wide;
  for (char32_t cp = 0x100; cp < 0x100 + 200; ++cp) {
    std::string s;
    utf8::append(s, cp);
    wide.push_back(s);
  }
  for (char c = 'a'; c <= 'e'; ++c) wide.push_back(std::string(1, c));
  wide.push_back(" ");
  for (int iter = 0; iter < 50; ++iter) {
    std::uniform_int_distribution<size_t> pick(0, iter % 2 ? wide.size() - 1 : 6);
    std::string ref, hyp;
    for (size_t k = 0, len = 200 + rng() % 2000; k < len; ++k) ref += wide[pick(rng)];
    hyp = ref.substr(ref.size() / 3);
    for (size_t k = 0; k < 500; ++k) hyp += wide[pick(rng)];
    expect_same(hyp, ref);
  }
  std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string ref, hyp;
  for (int k = 0; k < 40000; ++k) ref += alphabet[pick(rng) % (k % 7 == 0 ? 64 : 4)];
  hyp = ref.substr(10000, 20000);
  for (int k = 0; k < 5000; ++k) hyp += alphabet[pick(rng)];
  expect_same(hyp, ref);
}

// chrF++ word statistics (orders 1-2) against plain counting of sacrebleu's words (str.split(),
// then one trailing, else one leading, ASCII punctuation mark split off words longer than one
// code point): small pairs (prefix-id table) and a reference with too many distinct words for
// it (hash table).
std::vector<std::int64_t> word_map_stats(const std::string& hyp, const std::string& ref) {
  auto words = [](const std::string& text) {
    std::vector<std::string_view> split;
    py_split(text, split);
    std::vector<std::string> out;
    const std::string punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    for (auto w : split) {
      std::string s(w);
      if (utf8::to_u32(s).size() == 1) {
        out.push_back(s);
      } else if (punct.find(s.back()) != std::string::npos) {
        out.push_back(s.substr(0, s.size() - 1));
        out.push_back(s.substr(s.size() - 1));
      } else if (punct.find(s.front()) != std::string::npos) {
        out.push_back(s.substr(0, 1));
        out.push_back(s.substr(1));
      } else {
        out.push_back(s);
      }
    }
    return out;
  };
  return plain_stats(words(hyp), words(ref), 2);
}

TEST(ChrfFastTest, WordStatisticsEqualPlainCounting) {
  std::mt19937 rng(13);
  const std::vector<std::string> pieces = {
      "a", "bc", "the", "cat",      ".",        ",",  "(",  ")", "'",
      " ", "  ", "\n",  "\xC3\xA9", "\xC2\xA0", "--", "x.", "A", "\xE4\xB8\xAD"};
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  auto check = [](const std::string& hyp, const std::string& ref) {
    ChrfStats st = chrf_stats(hyp, ref, 2);
    std::vector<std::int64_t> got(st.values.begin() + 18, st.values.begin() + 24);
    ASSERT_EQ(got, word_map_stats(hyp, ref)) << "[" << hyp << "] vs [" << ref << "]";
  };
  for (int iter = 0; iter < 3000; ++iter) {
    std::string ref, hyp;
    for (size_t k = 0, len = rng() % 60; k < len; ++k) ref += pieces[pick(rng)];
    hyp = ref.substr(0, ref.size() / 2);
    for (size_t k = 0, len = rng() % 30; k < len; ++k) hyp += pieces[pick(rng)];
    check(hyp, ref);
  }
  // 3000 words, ~1500 distinct: (3000 + 1) * (1500 + 1) table entries is past the limit.
  std::string ref, hyp;
  for (int k = 0; k < 3000; ++k) ref += "w" + std::to_string(rng() % 1500) + (k % 9 ? " " : ". ");
  hyp = ref.substr(ref.size() / 2);
  for (int k = 0; k < 500; ++k) hyp += "w" + std::to_string(rng() % 3000) + " ";
  check(hyp, ref);
}

}  // namespace
}  // namespace assay::scoring
