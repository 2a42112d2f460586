#include "scoring/squad.h"

#include <algorithm>
#include <unordered_map>

#include "core/utf8.h"

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

double squad_exact_match(std::string_view prediction, std::string_view reference) {
  return squad_normalize(prediction) == squad_normalize(reference) ? 1.0 : 0.0;
}

double quasi_exact_match(std::string_view prediction, std::string_view reference) {
  return squad_normalize(py_strip(prediction)) == squad_normalize(py_strip(reference)) ? 1.0 : 0.0;
}

TokenPrf squad_token_prf(std::string_view prediction, std::string_view reference) {
  std::vector<std::string> pred = squad_tokens(prediction);
  std::vector<std::string> ref = squad_tokens(reference);
  std::unordered_map<std::string, long> ref_counts;
  for (const auto& t : ref) ++ref_counts[t];
  long same = 0;
  for (const auto& t : pred) {
    auto it = ref_counts.find(t);
    if (it != ref_counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  TokenPrf out;
  if (same == 0) return out;
  out.precision = 1.0 * same / static_cast<double>(pred.size());
  out.recall = 1.0 * same / static_cast<double>(ref.size());
  out.f1 = (2 * out.precision * out.recall) / (out.precision + out.recall);
  return out;
}

}  // namespace assay::scoring
