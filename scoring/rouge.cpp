#include "scoring/rouge.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <utf8proc.h>

#include "core/utf8.h"
#include "scoring/porter.h"
#include "scoring/text.h"

namespace assay::scoring {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Appends what str.lower() of code point `cp` contributes after the [^a-z0-9] -> ' ' step: the
// ASCII letters/digits it lower-cases to, a space for anything else.
void append_lowered(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    char c = static_cast<char>(cp);
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    out += ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : ' ';
    return;
  }
  if (cp == 0x0130) {  // SpecialCasing: U+0130 -> "i" U+0307
    out += "i ";
    return;
  }
  auto lower = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
  out += (lower >= 'a' && lower <= 'z') ? static_cast<char>(lower) : ' ';  // e.g. KELVIN SIGN
}

void tokenize_into(std::string_view text, bool stem, std::string& buf,
                   std::vector<std::string>& out) {
  buf.clear();
  for (size_t pos = 0; pos < text.size();) {
    auto c = static_cast<unsigned char>(text[pos]);
    if (c < 0x80) {
      append_lowered(c, buf);
      ++pos;
    } else {
      append_lowered(utf8::decode(text, pos), buf);
    }
  }
  out.clear();
  for (size_t pos = 0; pos < buf.size();) {
    if (buf[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = buf.find(' ', pos);
    if (end == std::string::npos) end = buf.size();
    std::string_view tok(buf.data() + pos, end - pos);
    if (stem && tok.size() > 3) {
      // Stems repeat a lot (Zipf); a bounded per-thread memo of the pure function.
      thread_local std::unordered_map<std::string, std::string> memo;
      if (tok.size() > 64) {  // long tokens are rare: stem them without filling the memo
        std::string stemmed = porter_stem(tok);
        if (!stemmed.empty()) out.push_back(std::move(stemmed));
        pos = end;
        continue;
      }
      auto it = memo.find(std::string(tok));
      if (it == memo.end()) {
        if (memo.size() > 200000) memo.clear();
        it = memo.emplace(std::string(tok), porter_stem(tok)).first;
      }
      if (!it->second.empty()) out.push_back(it->second);
    } else {
      out.emplace_back(tok);
    }
    pos = end;
  }
}

double fmeasure(double p, double r) {
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

RougePrf ngram_prf(const std::vector<std::uint32_t>& target, const std::vector<std::uint32_t>& pred,
                   int n, NgramTable& table) {
  auto key = [](const std::uint32_t* ids, int order) {
    NgramKey k = 0;
    for (int i = 0; i < order; ++i) k = (k << 32) | ids[i];
    return k;
  };
  const auto nt = std::max<std::int64_t>(0, static_cast<std::int64_t>(target.size()) - n + 1);
  const auto np = std::max<std::int64_t>(0, static_cast<std::int64_t>(pred.size()) - n + 1);
  std::int64_t inter = 0;
  if (nt > 0 && np > 0) {
    table.reset(static_cast<size_t>(nt));
    for (std::int64_t i = 0; i < nt; ++i) table.add(key(target.data() + i, n));
    for (std::int64_t i = 0; i < np; ++i) inter += table.take(key(pred.data() + i, n));
  }
  RougePrf out;
  out.precision = static_cast<double>(inter) / static_cast<double>(std::max<std::int64_t>(np, 1));
  out.recall = static_cast<double>(inter) / static_cast<double>(std::max<std::int64_t>(nt, 1));
  out.fmeasure = fmeasure(out.precision, out.recall);
  return out;
}

// LCS length. Bit-parallel (Allison-Dix / Hyyro): one bit per target position, one pass of
// word-wide add/or per prediction token; falls back to two rolling DP rows for very long
// targets (the mask table would be m * m / 64 words).
std::int64_t lcs_length(const std::uint32_t* a, size_t m, const std::uint32_t* b, size_t n,
                        size_t vocab, std::vector<std::int32_t>& rows,
                        std::vector<std::uint64_t>& bits, std::vector<std::int32_t>& row_of) {
  if (m == 0 || n == 0) return 0;
  const size_t words = (m + 63) / 64;
  if (m <= 8192) {
    row_of.assign(vocab, -1);
    std::int32_t distinct = 0;
    for (size_t i = 0; i < m; ++i) {
      if (row_of[a[i]] < 0) row_of[a[i]] = distinct++;
    }
    bits.assign((static_cast<size_t>(distinct) + 1) * words, 0);
    std::uint64_t* masks = bits.data();
    std::uint64_t* v = bits.data() + static_cast<size_t>(distinct) * words;
    for (size_t i = 0; i < m; ++i)
      masks[static_cast<size_t>(row_of[a[i]]) * words + i / 64] |= std::uint64_t{1} << (i % 64);
    for (size_t w = 0; w < words; ++w) v[w] = ~std::uint64_t{0};
    for (size_t j = 0; j < n; ++j) {
      std::int32_t r = row_of[b[j]];
      if (r < 0) continue;  // token absent from the target: V is unchanged
      const std::uint64_t* mask = masks + static_cast<size_t>(r) * words;
      unsigned carry = 0;
      for (size_t w = 0; w < words; ++w) {
        std::uint64_t u = v[w] & mask[w];
        std::uint64_t sum = v[w] + u;
        unsigned c1 = sum < v[w];
        std::uint64_t sum2 = sum + carry;
        unsigned c2 = sum2 < sum;
        v[w] = sum2 | (v[w] & ~u);
        carry = c1 | c2;
      }
    }
    std::int64_t ones = 0;
    for (size_t w = 0; w < words; ++w) {
      std::uint64_t x = v[w];
      if (w == words - 1 && m % 64 != 0) x &= (std::uint64_t{1} << (m % 64)) - 1;
      ones += std::popcount(x);
    }
    return static_cast<std::int64_t>(m) - ones;
  }
  rows.assign(2 * (n + 1), 0);
  std::int32_t* prev = rows.data();
  std::int32_t* cur = rows.data() + n + 1;
  for (size_t i = 1; i <= m; ++i) {
    cur[0] = 0;
    for (size_t j = 1; j <= n; ++j) {
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[n];
}

// rouge-score lcs_ind: indices into `ref` of one LCS, by its backtracking rule.
void lcs_indices(const std::uint32_t* ref, size_t m, const std::uint32_t* can, size_t n,
                 std::vector<std::int32_t>& table, std::vector<std::uint32_t>& out) {
  table.assign((m + 1) * (n + 1), 0);
  auto t = [&](size_t i, size_t j) -> std::int32_t& { return table[i * (n + 1) + j]; };
  for (size_t i = 1; i <= m; ++i) {
    for (size_t j = 1; j <= n; ++j) {
      t(i, j) = ref[i - 1] == can[j - 1] ? t(i - 1, j - 1) + 1 : std::max(t(i - 1, j), t(i, j - 1));
    }
  }
  size_t i = m, j = n;
  const size_t start = out.size();
  while (i > 0 && j > 0) {
    if (ref[i - 1] == can[j - 1]) {
      out.push_back(static_cast<std::uint32_t>(i - 1));
      --i;
      --j;
    } else if (t(i, j - 1) > t(i - 1, j)) {
      --j;
    } else {
      --i;
    }
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
}

struct Scratch {
  std::string storage_a, storage_b, buf;
  std::vector<std::string> toks;
  Interner interner;
  std::vector<std::uint32_t> target, pred;
  std::vector<std::vector<std::uint32_t>> target_sents, pred_sents;
  std::vector<std::string> sent_tokens;  // keeps token strings alive for the interner
  std::vector<std::vector<std::string>> all_tokens;
  std::vector<std::int32_t> rows, row_of;
  std::vector<std::uint64_t> bits;
  std::vector<std::uint32_t> union_idx;
  std::vector<std::int32_t> count_r, count_c;
  NgramTable table;
};

// Tokenizes `text` (or each "\n" line of it when `lines`), interning into ids. Token strings are
// kept in `keep` so the interner's views stay valid.
void ids_of(std::string_view text, bool stem, bool lines, Scratch& s,
            std::vector<std::vector<std::uint32_t>>& out) {
  out.clear();
  auto add_piece = [&](std::string_view piece) {
    s.all_tokens.emplace_back();
    tokenize_into(piece, stem, s.buf, s.all_tokens.back());
    std::vector<std::uint32_t> ids;
    ids.reserve(s.all_tokens.back().size());
    for (const auto& t : s.all_tokens.back()) ids.push_back(s.interner.id(t));
    out.push_back(std::move(ids));
  };
  if (!lines) {
    add_piece(text);
    return;
  }
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    if (nl > pos) add_piece(text.substr(pos, nl - pos));  // empty lines are dropped
    pos = nl + 1;
  }
}

RougePrf summary_lcs(const std::vector<std::vector<std::uint32_t>>& ref_sents,
                     const std::vector<std::vector<std::uint32_t>>& can_sents, Scratch& s) {
  RougePrf out;
  if (ref_sents.empty() || can_sents.empty()) return out;
  size_t m = 0, n = 0;
  for (const auto& r : ref_sents) m += r.size();
  for (const auto& c : can_sents) n += c.size();
  if (m == 0 || n == 0) return out;
  for (const auto& r : ref_sents) {
    for (const auto& c : can_sents) {
      if (static_cast<std::uint64_t>(r.size()) * c.size() > kRougeMaxLcsCells) {
        return {kNaN, kNaN, kNaN};
      }
    }
  }
  const size_t vocab = s.interner.size();
  s.count_r.assign(vocab, 0);
  s.count_c.assign(vocab, 0);
  for (const auto& r : ref_sents) {
    for (auto t : r) ++s.count_r[t];
  }
  for (const auto& c : can_sents) {
    for (auto t : c) ++s.count_c[t];
  }
  std::int64_t hits = 0;
  for (const auto& r : ref_sents) {
    s.union_idx.clear();
    for (const auto& c : can_sents)
      lcs_indices(r.data(), r.size(), c.data(), c.size(), s.rows, s.union_idx);
    std::sort(s.union_idx.begin(), s.union_idx.end());
    s.union_idx.erase(std::unique(s.union_idx.begin(), s.union_idx.end()), s.union_idx.end());
    for (auto idx : s.union_idx) {
      auto t = r[idx];
      if (s.count_c[t] > 0 && s.count_r[t] > 0) {
        ++hits;
        --s.count_c[t];
        --s.count_r[t];
      }
    }
  }
  out.recall = static_cast<double>(hits) / static_cast<double>(m);
  out.precision = static_cast<double>(hits) / static_cast<double>(n);
  out.fmeasure = fmeasure(out.precision, out.recall);
  return out;
}

}  // namespace

std::vector<std::string> rouge_tokenize(std::string_view text, bool stem) {
  std::string storage, buf;
  std::vector<std::string> out;
  tokenize_into(valid_utf8(text, storage), stem, buf, out);
  return out;
}

RougeScores rouge_scores(std::string_view prediction, std::string_view reference, bool stem) {
  thread_local Scratch s;
  std::string_view pred = valid_utf8(prediction, s.storage_a);
  std::string_view target = valid_utf8(reference, s.storage_b);
  s.interner.clear();
  s.all_tokens.clear();
  // Whole-text tokens first; all strings stay alive in all_tokens until the next call.
  std::vector<std::vector<std::uint32_t>> whole;
  ids_of(target, stem, false, s, whole);
  s.target = whole[0];
  ids_of(pred, stem, false, s, whole);
  s.pred = whole[0];
  // ROUGE-Lsum sentences: "\n" lines; without a newline the one sentence is the whole text.
  auto sentences = [&](std::string_view text, const std::vector<std::uint32_t>& whole_ids,
                       std::vector<std::vector<std::uint32_t>>& out) {
    if (text.find('\n') != std::string_view::npos) {
      ids_of(text, stem, true, s, out);
    } else {
      out.clear();
      if (!text.empty()) out.push_back(whole_ids);
    }
  };
  sentences(target, s.target, s.target_sents);
  sentences(pred, s.pred, s.pred_sents);

  RougeScores out;
  out.rouge1 = ngram_prf(s.target, s.pred, 1, s.table);
  out.rouge2 = ngram_prf(s.target, s.pred, 2, s.table);
  if (!s.target.empty() && !s.pred.empty()) {
    if (static_cast<std::uint64_t>(s.target.size()) * s.pred.size() > kRougeMaxLcsCells) {
      out.rougeL = {kNaN, kNaN, kNaN};
    } else {
      auto lcs = lcs_length(s.target.data(), s.target.size(), s.pred.data(), s.pred.size(),
                            s.interner.size(), s.rows, s.bits, s.row_of);
      out.rougeL.precision = static_cast<double>(lcs) / static_cast<double>(s.pred.size());
      out.rougeL.recall = static_cast<double>(lcs) / static_cast<double>(s.target.size());
      out.rougeL.fmeasure = fmeasure(out.rougeL.precision, out.rougeL.recall);
    }
  }
  if (s.target_sents.size() == 1 && s.pred_sents.size() == 1 && s.target_sents[0] == s.target &&
      s.pred_sents[0] == s.pred) {
    // One sentence each side: the union LCS is one LCS, whose tokens are all within both
    // sides' counts, so the hits are the LCS length and ROUGE-Lsum equals ROUGE-L.
    out.rougeLsum = out.rougeL;
  } else {
    out.rougeLsum = summary_lcs(s.target_sents, s.pred_sents, s);
  }
  return out;
}

}  // namespace assay::scoring
