#include "scoring/squad.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "core/utf8.h"
#include "scoring/text.h"

namespace assay::scoring {
namespace {

bool is_ascii_punct(char32_t cp) {
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

bool is_ascii(std::string_view s) {
  for (char ch : s) {
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  }
  return true;
}

bool ascii_space(unsigned char ch) {
  return (ch >= 9 && ch <= 13) || (ch >= 0x1c && ch <= 0x20);
}

// Normalised tokens of `text` as views into `buf`. ASCII text takes a one-pass path with the
// same semantics (for ASCII, Python's lower/\w/split are the ASCII rules; '_' is punctuation
// and already removed, so word characters are [a-z0-9]); anything else goes through
// squad_normalize.
void normalized_tokens(std::string_view text, std::string& buf,
                       std::vector<std::string_view>& out) {
  out.clear();
  if (!is_ascii(text)) {
    buf = squad_normalize(text);
    size_t pos = 0;
    while (pos < buf.size()) {
      size_t sp = buf.find(' ', pos);
      if (sp == std::string::npos) sp = buf.size();
      if (sp > pos) out.emplace_back(buf.data() + pos, sp - pos);
      pos = sp + 1;
    }
    return;
  }
  buf.resize(text.size());
  size_t n = 0;
  for (char ch : text) {
    auto u = static_cast<unsigned char>(ch);
    if (is_ascii_punct(u)) continue;
    buf[n++] = (u >= 'A' && u <= 'Z') ? static_cast<char>(u + 32) : ch;
  }
  buf.resize(n);
  auto is_word = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  // Tokens are maximal runs of non-space characters, except that a whole word run equal to an
  // article becomes a space (so it also splits a token such as "\x01a\x01").
  size_t tok_start = std::string::npos;
  size_t i = 0;
  auto close = [&](size_t end) {
    if (tok_start != std::string::npos && end > tok_start)
      out.emplace_back(buf.data() + tok_start, end - tok_start);
    tok_start = std::string::npos;
  };
  while (i < n) {
    char ch = buf[i];
    if (ascii_space(static_cast<unsigned char>(ch))) {
      close(i);
      ++i;
      continue;
    }
    if (is_word(ch)) {
      size_t j = i;
      while (j < n && is_word(buf[j])) ++j;
      std::string_view run(buf.data() + i, j - i);
      if (run == "a" || run == "an" || run == "the") {
        close(i);
      } else if (tok_start == std::string::npos) {
        tok_start = i;
      }
      i = j;
      continue;
    }
    if (tok_start == std::string::npos) tok_start = i;
    ++i;
  }
  close(n);
}

struct SquadScratch {
  std::string buf_a, buf_b;
  std::vector<std::string_view> tok_a, tok_b;
  std::vector<std::uint32_t> counts;
  Interner interner;
};

}  // namespace

double squad_exact_match(std::string_view prediction, std::string_view reference) {
  thread_local SquadScratch s;
  normalized_tokens(prediction, s.buf_a, s.tok_a);
  normalized_tokens(reference, s.buf_b, s.tok_b);
  return s.tok_a == s.tok_b ? 1.0 : 0.0;
}

double quasi_exact_match(std::string_view prediction, std::string_view reference) {
  return squad_normalize(py_strip(prediction)) == squad_normalize(py_strip(reference)) ? 1.0 : 0.0;
}

TokenPrf squad_token_prf(std::string_view prediction, std::string_view reference) {
  thread_local SquadScratch s;
  normalized_tokens(prediction, s.buf_a, s.tok_a);
  normalized_tokens(reference, s.buf_b, s.tok_b);
  // Multiset intersection through interned ids.
  s.interner.clear();
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
