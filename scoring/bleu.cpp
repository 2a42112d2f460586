#include "scoring/bleu.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "scoring/text.h"

namespace assay::scoring {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// First regex of TokenizerRegexp: [\{-\~\[-\` -\&\(-\+\:-\@\/]
bool is_13a_symbol(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u >= 0x7B && u <= 0x7E) || (u >= 0x5B && u <= 0x60) || (u >= 0x20 && u <= 0x26) ||
         (u >= 0x28 && u <= 0x2B) || (u >= 0x3A && u <= 0x40) || u == 0x2F;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  size_t pos = s.find(from);
  if (pos == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t last = 0;
  while (pos != std::string::npos) {
    out.append(s, last, pos - last);
    out.append(to);
    last = pos + from.size();
    pos = s.find(from, last);
  }
  out.append(s, last);
  s.swap(out);
}

// The 13a pipeline on valid UTF-8. The regexes are byte-level here: every pattern position is
// an ASCII class or [^0-9], and a multi-byte code point can neither start nor end a match
// differently from its bytes, so the output equals Python's code-point regexes.
std::string tokenized_13a(std::string_view text) {
  std::string line(text);
  if (line.find_first_of("<\n&") != std::string::npos) {  // every pattern has one of these
    replace_all(line, "<skipped>", "");
    replace_all(line, "-\n", "");
    replace_all(line, "\n", " ");
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  // Each pass writes through a raw pointer into a buffer sized for its worst case.
  std::string a(line.size() * 3 + 2, '\0');
  char* p = a.data();
  *p++ = ' ';
  for (char ch : line) {
    if (is_13a_symbol(ch)) {
      p[0] = ' ';
      p[1] = ch;
      p[2] = ' ';
      p += 3;
    } else {
      *p++ = ch;
    }
  }
  *p++ = ' ';
  a.resize(static_cast<size_t>(p - a.data()));
  // ([^0-9])([\.,]) -> '\1 \2 '
  std::string b(a.size() * 2, '\0');
  p = b.data();
  for (size_t i = 0, n = a.size(); i < n;) {
    if (i + 1 < n && (a[i + 1] == '.' || a[i + 1] == ',') && !is_digit(a[i])) {
      p[0] = a[i];
      p[1] = ' ';
      p[2] = a[i + 1];
      p[3] = ' ';
      p += 4;
      i += 2;
    } else {
      *p++ = a[i++];
    }
  }
  b.resize(static_cast<size_t>(p - b.data()));
  // ([\.,])([^0-9]) -> ' \1 \2'
  a.resize(b.size() * 2);
  p = a.data();
  for (size_t i = 0, n = b.size(); i < n;) {
    if (i + 1 < n && (b[i] == '.' || b[i] == ',') && !is_digit(b[i + 1])) {
      p[0] = ' ';
      p[1] = b[i];
      p[2] = ' ';
      p[3] = b[i + 1];
      p += 4;
      i += 2;
    } else {
      *p++ = b[i++];
    }
  }
  a.resize(static_cast<size_t>(p - a.data()));
  // ([0-9])(-) -> '\1 \2 '
  b.resize(a.size() * 2);
  p = b.data();
  for (size_t i = 0, n = a.size(); i < n;) {
    if (i + 1 < n && a[i + 1] == '-' && is_digit(a[i])) {
      p[0] = a[i];
      p[1] = ' ';
      p[2] = '-';
      p[3] = ' ';
      p += 4;
      i += 2;
    } else {
      *p++ = a[i++];
    }
  }
  b.resize(static_cast<size_t>(p - b.data()));
  return b;
}

struct Scratch {
  std::string hyp_storage, ref_storage, hyp_text, ref_text;
  std::vector<std::string_view> hyp_tokens, ref_tokens;
  std::vector<std::uint32_t> hyp_ids, ref_ids;
  Interner interner;
  NgramTable table;
  NgramTable64 table64;
};

NgramKey ngram_key(const std::uint32_t* ids, int n) {
  NgramKey k = 0;
  for (int i = 0; i < n; ++i) k = (k << 32) | ids[i];
  return k;
}

}  // namespace

BleuStats& BleuStats::operator+=(const BleuStats& o) {
  sys_len += o.sys_len;
  ref_len += o.ref_len;
  for (int n = 0; n < kBleuOrder; ++n) {
    counts[n] += o.counts[n];
    totals[n] += o.totals[n];
  }
  return *this;
}

std::vector<std::string> tokenize_13a(std::string_view text) {
  std::string storage;
  std::string line = tokenized_13a(valid_utf8(text, storage));
  std::vector<std::string_view> views;
  py_split(line, views);
  return {views.begin(), views.end()};
}

BleuStats bleu_stats(std::string_view hypothesis, std::string_view reference) {
  thread_local Scratch s;
  s.hyp_text = tokenized_13a(valid_utf8(hypothesis, s.hyp_storage));
  s.ref_text = tokenized_13a(valid_utf8(reference, s.ref_storage));
  s.hyp_tokens.clear();
  s.ref_tokens.clear();
  py_split(s.hyp_text, s.hyp_tokens);
  py_split(s.ref_text, s.ref_tokens);
  s.interner.clear();
  s.ref_ids.clear();
  s.hyp_ids.clear();
  for (auto t : s.ref_tokens) s.ref_ids.push_back(s.interner.id(t));
  for (auto t : s.hyp_tokens) s.hyp_ids.push_back(s.interner.id(t));

  BleuStats st;
  st.sys_len = static_cast<std::int64_t>(s.hyp_ids.size());
  st.ref_len = static_cast<std::int64_t>(s.ref_ids.size());
  if (s.interner.size() < 0xFFFF) {
    // All orders in one table: n ids + 1 packed into 16 bits each are unique across orders.
    const auto nr = static_cast<std::int64_t>(s.ref_ids.size());
    const auto nh = static_cast<std::int64_t>(s.hyp_ids.size());
    s.table64.reset(static_cast<size_t>(nr) * kBleuOrder);
    for (std::int64_t i = 0; i < nr; ++i) {
      std::uint64_t key = 0;
      for (std::int64_t n = 0; n < kBleuOrder && i + n < nr; ++n) {
        key = (key << 16) | (s.ref_ids[static_cast<size_t>(i + n)] + 1);
        s.table64.add(key);
      }
    }
    for (std::int64_t i = 0; i < nh; ++i) {
      std::uint64_t key = 0;
      for (std::int64_t n = 0; n < kBleuOrder && i + n < nh; ++n) {
        key = (key << 16) | (s.hyp_ids[static_cast<size_t>(i + n)] + 1);
        st.counts[static_cast<size_t>(n)] += s.table64.take(key);
      }
    }
    for (int n = 1; n <= kBleuOrder; ++n) st.totals[n - 1] = std::max<std::int64_t>(0, nh - n + 1);
    return st;
  }
  for (int n = 1; n <= kBleuOrder; ++n) {
    const auto nr = static_cast<std::int64_t>(s.ref_ids.size()) - n + 1;
    const auto nh = static_cast<std::int64_t>(s.hyp_ids.size()) - n + 1;
    if (nh <= 0) break;
    st.totals[n - 1] = nh;
    if (nr <= 0) continue;
    s.table.reset(static_cast<size_t>(nr));
    for (std::int64_t i = 0; i < nr; ++i) s.table.add(ngram_key(s.ref_ids.data() + i, n));
    std::int64_t matched = 0;
    for (std::int64_t i = 0; i < nh; ++i)
      matched += s.table.take(ngram_key(s.hyp_ids.data() + i, n));
    st.counts[n - 1] = matched;
  }
  return st;
}

BleuScore compute_bleu(const BleuStats& stats, bool effective_order) {
  BleuScore out;
  out.counts = stats.counts;
  out.totals = stats.totals;
  out.sys_len = stats.sys_len;
  out.ref_len = stats.ref_len;
  if (stats.sys_len < stats.ref_len) {
    out.bp = stats.sys_len > 0 ? std::exp(1.0 - static_cast<double>(stats.ref_len) /
                                                    static_cast<double>(stats.sys_len))
                               : 0.0;
  } else {
    out.bp = 1.0;
  }
  bool any = false;
  for (auto c : stats.counts) any = any || c != 0;
  if (!any) return out;  // sacrebleu's early stop: score 0, precisions 0
  double smooth_mteval = 1.0;
  int eff_order = kBleuOrder;
  for (int n = 1; n <= kBleuOrder; ++n) {
    if (stats.totals[n - 1] == 0) break;
    if (effective_order) eff_order = n;
    if (stats.counts[n - 1] == 0) {
      smooth_mteval *= 2;
      out.precisions[n - 1] = 100.0 / (smooth_mteval * static_cast<double>(stats.totals[n - 1]));
    } else {
      out.precisions[n - 1] = 100.0 * static_cast<double>(stats.counts[n - 1]) /
                              static_cast<double>(stats.totals[n - 1]);
    }
  }
  double log_sum = 0.0;  // Python's sum() adds left to right from 0
  for (int n = 0; n < eff_order; ++n) {
    double p = out.precisions[n];
    log_sum += p == 0.0 ? -9999999999.0 : std::log(p);
  }
  out.score = out.bp * std::exp(log_sum / eff_order);
  return out;
}

BleuScore sentence_bleu(std::string_view hypothesis, std::string_view reference) {
  return compute_bleu(bleu_stats(hypothesis, reference), true);
}

BleuScore corpus_bleu(std::span<const std::string> hypotheses,
                      std::span<const std::string> references) {
  if (hypotheses.size() != references.size()) {
    throw_invalid("corpus_bleu: " + std::to_string(hypotheses.size()) + " hypotheses but " +
                  std::to_string(references.size()) + " references");
  }
  BleuStats total;
  for (size_t i = 0; i < hypotheses.size(); ++i) total += bleu_stats(hypotheses[i], references[i]);
  return compute_bleu(total, false);
}

}  // namespace assay::scoring
