#include "scoring/squad.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "core/utf8.h"
#include "scoring/text.h"

namespace assay::scoring {
namespace {

constexpr bool is_ascii_punct(char32_t cp) {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
         (cp >= 123 && cp <= 126);
}

std::vector<std::u32string> py_split(const std::u32string& s) {
  std::vector<std::u32string> out;
  std::u32string cur;
  for (char32_t cp : s) {
    if (utf8::py_isspace(cp)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += cp;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace

std::string py_strip(std::string_view text) {
  std::u32string cps = utf8::to_u32(text);
  size_t b = 0, e = cps.size();
  while (b < e && utf8::py_isspace(cps[b])) ++b;
  while (e > b && utf8::py_isspace(cps[e - 1])) --e;
  return utf8::from_u32(std::u32string_view(cps).substr(b, e - b));
}

double exact_match(std::string_view prediction, std::string_view reference) {
  return py_strip(prediction) == py_strip(reference) ? 1.0 : 0.0;
}

std::string squad_normalize(std::string_view text) {
  // lower -> remove_punc -> remove_articles -> white_space_fix, in the script's order.
  std::u32string lowered = utf8::to_u32(utf8::py_lower(text));
  std::u32string no_punc;
  no_punc.reserve(lowered.size());
  for (char32_t cp : lowered) {
    if (!is_ascii_punct(cp)) no_punc += cp;
  }
  // re.sub(r'\b(a|an|the)\b', ' ', text): a match is always a whole run of word characters.
  std::u32string no_articles;
  no_articles.reserve(no_punc.size());
  size_t i = 0;
  while (i < no_punc.size()) {
    if (!utf8::py_isword(no_punc[i])) {
      no_articles += no_punc[i++];
      continue;
    }
    size_t j = i;
    while (j < no_punc.size() && utf8::py_isword(no_punc[j])) ++j;
    std::u32string_view run(no_punc.data() + i, j - i);
    if (run == U"a" || run == U"an" || run == U"the") {
      no_articles += U' ';
    } else {
      no_articles += run;
    }
    i = j;
  }
  std::string out;
  for (const auto& tok : py_split(no_articles)) {
    if (!out.empty()) out += ' ';
    out += utf8::from_u32(tok);
  }
  return out;
}

std::vector<std::string> squad_tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string norm = squad_normalize(text);
  size_t pos = 0;
  while (pos < norm.size()) {
    size_t sp = norm.find(' ', pos);
    if (sp == std::string::npos) sp = norm.size();
    if (sp > pos) out.push_back(norm.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

namespace {

// Byte classes of the normalising scan over lower-cased text.
enum SquadClass : std::uint8_t { kOther, kWord, kSpace, kPunct, kUpper, kNonAscii };

constexpr std::array<std::uint8_t, 256> make_squad_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if (c >= 0x80) {
      t[c] = kNonAscii;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      t[c] = kWord;  // '_' is \w too, but it is punctuation and removed first
    } else if (c >= 'A' && c <= 'Z') {
      t[c] = kUpper;
    } else if ((c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20)) {
      t[c] = kSpace;
    } else if (is_ascii_punct(static_cast<char32_t>(c))) {
      t[c] = kPunct;
    }
  }
  return t;
}
constexpr std::array<std::uint8_t, 256> kSquadClass = make_squad_classes();

// Bytes that continue an ASCII word run (word characters and the punctuation removed inside it)
// and, of those, the ones written out.
constexpr std::array<std::uint8_t, 256> make_in_run(bool keep_only) {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const std::uint8_t k = kSquadClass[static_cast<size_t>(c)];
    t[static_cast<size_t>(c)] = (k == kWord || k == kUpper || (!keep_only && k == kPunct)) ? 1 : 0;
  }
  return t;
}
constexpr std::array<std::uint8_t, 256> kInRun = make_in_run(false);
constexpr std::array<std::uint8_t, 256> kKeep = make_in_run(true);

// Normalised tokens (squad_normalize(text).split()) as views into `buf`, in one pass: punctuation
// dropped, letters lower-cased, each maximal run of word characters that is exactly "a", "an" or
// "the" acting as a space (that is \b(a|an|the)\b on the punctuation-free text), tokens split
// on Unicode whitespace. Pure ASCII is lower-cased on the fly; text with any byte >= 0x80 is
// lower-cased first by utf8::py_lower (full Unicode casing, invalid bytes as U+FFFD) and its
// non-ASCII code points are classified with py_isword / py_isspace. Equality with
// squad_normalize is tested (squad_fast_test) and fuzzed.
constexpr std::array<char, 256> make_lower() {
  std::array<char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return t;
}
constexpr std::array<char, 256> kLower = make_lower();

bool is_article(const char* r, size_t len) {
  return (len == 1 && r[0] == 'a') || (len == 2 && r[0] == 'a' && r[1] == 'n') ||
         (len == 3 && r[0] == 't' && r[1] == 'h' && r[2] == 'e');
}

void normalized_tokens(std::string_view text, std::string& lowered, std::string& buf,
                       std::vector<std::string_view>& out) {
  out.clear();
  std::string_view src = text;
  for (char ch : text) {
    if (static_cast<unsigned char>(ch) >= 0x80) {
      lowered = utf8::py_lower(text);
      src = lowered;
      break;
    }
  }
  buf.resize(src.size() + 1);
  char* w = buf.data();
  const char* d = src.data();
  const size_t size = src.size();
  size_t n = 0;                 // bytes written to buf
  size_t tok_start = SIZE_MAX;  // start of the current token in buf, SIZE_MAX = none
  size_t i = 0;
  while (i < size) {
    // One word run: ASCII word characters (lower-cased), punctuation (dropped: it is removed
    // before the article regex runs, so "a.b" is one run) and non-ASCII word characters.
    const size_t run_start = n;
    std::uint8_t cls = kOther;
    size_t len = 1;
    for (;;) {
      // ASCII part of the run without a branch per byte: every byte is stored lower-cased and
      // kept unless it is punctuation.
      while (i < size) {
        auto c = static_cast<unsigned char>(d[i]);
        if (!kInRun[c]) break;
        w[n] = kLower[c];
        n += kKeep[c];
        ++i;
      }
      if (i >= size) break;
      cls = kSquadClass[static_cast<unsigned char>(d[i])];
      if (cls != kNonAscii) {
        len = 1;
        break;
      }
      size_t next = i;
      char32_t cp = utf8::decode(src, next);
      len = next - i;
      if (!utf8::py_isword(cp)) {
        cls = utf8::py_isspace(cp) ? kSpace : kOther;
        break;
      }
      std::memcpy(w + n, d + i, len);
      n += len;
      i = next;
    }
    if (n > run_start) {
      if (is_article(w + run_start, n - run_start)) {  // the run becomes a space
        if (tok_start != SIZE_MAX && run_start > tok_start)
          out.emplace_back(w + tok_start, run_start - tok_start);
        tok_start = SIZE_MAX;
        n = run_start;
      } else if (tok_start == SIZE_MAX) {
        tok_start = run_start;
      }
    }
    if (i >= size) break;
    // d[i] is whitespace or another non-word character (len bytes).
    if (cls == kSpace) {
      if (tok_start != SIZE_MAX && n > tok_start) out.emplace_back(w + tok_start, n - tok_start);
      tok_start = SIZE_MAX;
    } else {
      if (tok_start == SIZE_MAX) tok_start = n;
      std::memcpy(w + n, d + i, len);
      n += len;
    }
    i += len;
  }
  if (tok_start != SIZE_MAX && n > tok_start) out.emplace_back(w + tok_start, n - tok_start);
}

struct SquadScratch {
  std::string buf_a, buf_b, lowered;
  std::vector<std::string_view> tok_a, tok_b;
  std::vector<std::uint32_t> counts;
  Interner interner;
};

}  // namespace

double squad_exact_match(std::string_view prediction, std::string_view reference) {
  thread_local SquadScratch s;
  normalized_tokens(prediction, s.lowered, s.buf_a, s.tok_a);
  normalized_tokens(reference, s.lowered, s.buf_b, s.tok_b);
  return s.tok_a == s.tok_b ? 1.0 : 0.0;
}

double quasi_exact_match(std::string_view prediction, std::string_view reference) {
  return squad_normalize(py_strip(prediction)) == squad_normalize(py_strip(reference)) ? 1.0 : 0.0;
}

TokenPrf squad_token_prf(std::string_view prediction, std::string_view reference) {
  thread_local SquadScratch s;
  normalized_tokens(prediction, s.lowered, s.buf_a, s.tok_a);
  normalized_tokens(reference, s.lowered, s.buf_b, s.tok_b);
  // Multiset intersection through interned ids.
  s.interner.clear(s.tok_a.size() + s.tok_b.size());
  s.counts.clear();
  for (auto t : s.tok_a) {
    std::uint32_t id = s.interner.id(t);
    if (id >= s.counts.size()) s.counts.resize(id + 1, 0);
    ++s.counts[id];
  }
  long same = 0;
  for (auto t : s.tok_b) {
    std::uint32_t id = s.interner.id(t);
    if (id < s.counts.size() && s.counts[id] > 0) {
      --s.counts[id];
      ++same;
    }
  }
  TokenPrf out;
  if (same == 0) return out;
  out.precision = 1.0 * same / static_cast<double>(s.tok_a.size());
  out.recall = 1.0 * same / static_cast<double>(s.tok_b.size());
  out.f1 = (2 * out.precision * out.recall) / (out.precision + out.recall);
  return out;
}

}  // namespace assay::scoring
