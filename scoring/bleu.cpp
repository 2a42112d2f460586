#include "scoring/bleu.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

void digit_punct_passes(std::string& a, std::string& b);

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
  std::string b;
  digit_punct_passes(a, b);
  return a;
}

// Tokens of valid UTF-8 `text` in one pass, as views into `line` (the text itself, or a copy in
// `storage` after the rare entity/newline replacements), equal to
// py_split(tokenized_13a(text)). Why that holds: the first regex puts spaces around each 13a
// symbol, so symbols are single tokens and separate the rest; the three digit/punctuation
// regexes only insert spaces and look at one neighbour, which at a chunk's edge is a space or
// other non-digit, non-[.,-] byte; so each whitespace/symbol-delimited chunk can be processed
// alone, and only a chunk holding '.', ',' or '-' can split. Equality with tokenize_13a and with
// the literal regexes is tested (bleu_tokenizer_test) and fuzzed.
// Byte classes of the one-pass scan (ASCII only; bytes >= 0x80 are looked at as code points).
enum ByteClass : std::uint8_t { kPlain, kSpace, kSymbol, kDotCommaDash, kRewrite };

constexpr std::array<std::uint8_t, 128> make_byte_classes() {
  std::array<std::uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20)) {  // Python str.isspace()
      t[c] = kSpace;
    } else if ((c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x21 && c <= 0x26) ||
               (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F) {
      t[c] = kSymbol;  // the first TokenizerRegexp class (its ' ' is whitespace anyway)
    } else if (c == '.' || c == ',' || c == '-') {
      t[c] = kDotCommaDash;
    }
  }
  t['<'] = kRewrite;  // "<skipped>", "&quot;" ... : a rewritten copy is scanned instead
  t['&'] = kRewrite;
  return t;
}
constexpr std::array<std::uint8_t, 128> kByteClass = make_byte_classes();

#if defined(__SSE2__)
// Bit i set when p[i] is not kPlain (whitespace, a symbol, '.', ',', '-', '<', '&', or >= 0x80).
inline std::uint32_t non_plain16(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  auto gt = [&](int c) { return _mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(c))); };
  auto lt = [&](int c) { return _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(c))); };
  auto eq = [&](int c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(c))); };
  // Signed compares: bytes >= 0x80 are negative, so never plain.
  const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
  const __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8(0x60)),
                                      _mm_cmplt_epi8(folded, _mm_set1_epi8(0x7b)));
  const __m128i digit = _mm_and_si128(gt(0x2f), lt(0x3a));
  const __m128i space =
      _mm_or_si128(_mm_and_si128(gt(8), lt(14)), _mm_and_si128(gt(0x1b), lt(0x21)));
  const __m128i ctrl = _mm_andnot_si128(space, _mm_and_si128(gt(-1), lt(0x20)));
  const __m128i plain = _mm_or_si128(_mm_or_si128(alpha, digit),
                                     _mm_or_si128(ctrl, _mm_or_si128(eq(0x27), eq(0x7f))));
  return static_cast<std::uint32_t>(~_mm_movemask_epi8(plain)) & 0xFFFF;
}
#endif

void rewrite_13a(std::string_view text, std::string& storage) {
  storage.assign(text);
  replace_all(storage, "<skipped>", "");
  replace_all(storage, "-\n", "");
  replace_all(storage, "\n", " ");
  replace_all(storage, "&quot;", "\"");
  replace_all(storage, "&amp;", "&");
  replace_all(storage, "&lt;", "<");
  replace_all(storage, "&gt;", ">");
}

// Tokens of valid UTF-8 `text` in one pass, as views into the text (or into `storage`, a copy
// after the rare entity/"<skipped>"/"-\n" rewrites), equal to py_split(tokenized_13a(text)).
// Why that holds: the first regex puts spaces around each 13a symbol, so symbols are single
// tokens and separate the rest; the three digit/punctuation regexes only insert spaces and look
// at one neighbour, which at a chunk's edge is a space or other non-digit, non-[.,-] byte; so
// each whitespace/symbol-delimited chunk can be processed alone, and only a chunk holding '.',
// ',' or '-' can split. Equality with tokenize_13a and with the literal regexes is tested
// (bleu_tokenizer_test) and fuzzed.
void tokens_13a(std::string_view text, std::string& storage, std::string& pad_a, std::string& pad_b,
                std::vector<std::string_view>& out, bool rewritten = false) {
  out.clear();
  const char* d = text.data();
  const size_t n = text.size();
  size_t start = 0;
  int specials = 0;  // '.', ',' or '-' in the chunk
  auto close = [&](size_t end) {
    if (end == start) return;
    const size_t len = end - start;
    if (specials == 0) {
      out.emplace_back(d + start, len);
      return;
    }
    // The common "word." / "word,": both regexes split off the final mark, nothing else.
    if (specials == 1 && len >= 2 && (d[end - 1] == '.' || d[end - 1] == ',') &&
        !is_digit(d[end - 2])) {
      out.emplace_back(d + start, len - 1);
      out.emplace_back(d + end - 1, 1);
      return;
    }
    // Otherwise run the digit/punctuation passes on " chunk " and map the runs back.
    pad_a.assign(1, ' ');
    pad_a.append(d + start, len);
    pad_a.push_back(' ');
    digit_punct_passes(pad_a, pad_b);
    size_t src = start, run = 0;
    bool in_run = false;
    for (char ch : pad_a) {
      if (ch == ' ') {
        if (in_run) out.emplace_back(d + run, src - run);
        in_run = false;
      } else {
        if (!in_run) run = src;
        in_run = true;
        ++src;
      }
    }
    if (in_run) out.emplace_back(d + run, src - run);
  };
  size_t i = 0;
  while (i < n) {
#if defined(__SSE2__)
    // Skip a run of plain bytes 16 at a time.
    while (i + 16 <= n) {
      const std::uint32_t mask = non_plain16(d + i);
      if (mask != 0) {
        i += static_cast<size_t>(__builtin_ctz(mask));
        break;
      }
      i += 16;
    }
    if (i >= n) break;
#endif
    auto c = static_cast<unsigned char>(d[i]);
    if (c < 0x80) {
      switch (kByteClass[c]) {
        case kPlain:
          ++i;
          continue;
        case kDotCommaDash:
          if (c == '-' && i + 1 < n && d[i + 1] == '\n' && !rewritten) break;
          ++specials;
          ++i;
          continue;
        case kSpace:
          close(i);
          start = ++i;
          specials = 0;
          continue;
        case kSymbol:
          close(i);
          out.emplace_back(d + i, 1);
          start = ++i;
          specials = 0;
          continue;
        default:  // kRewrite
          if (rewritten) {
            close(i);
            out.emplace_back(d + i, 1);
            start = ++i;
            specials = 0;
            continue;
          }
          break;
      }
      // "-\n", '<' or '&' in the original text: scan the rewritten copy instead.
      rewrite_13a(text, storage);
      const size_t size = storage.size();
      storage.append(16, '\0');  // the tokens keep 16 readable bytes (PaddedInterner)
      tokens_13a(std::string_view(storage).substr(0, size), storage, pad_a, pad_b, out, true);
      return;
    }
    size_t len = 1;
    if (py_space_at(text, i, len)) {
      close(i);
      i += len;
      start = i;
      specials = 0;
    } else {
      i += len;
    }
  }
  close(n);
}

// The last three 13a regexes, applied in place to `a` (b is scratch).
void digit_punct_passes(std::string& a, std::string& b) {
  // ([^0-9])([\.,]) -> '\1 \2 '
  b.resize(a.size() * 2);
  char* p = b.data();
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
  a.swap(b);
}

struct Scratch {
  std::string hyp_storage, ref_storage, hyp_line, ref_line, pad_a, pad_b, hyp_pad, ref_pad;
  std::vector<std::string_view> hyp_tokens, ref_tokens;
  std::vector<std::uint32_t> hyp_ids, ref_ids;
  PaddedInterner interner;
  NgramTable table;
  FlatNgramCounter counter;
  PrefixNgramMatcher matcher;
  std::vector<std::int32_t> unigrams;  // reference unigram counts by id
  std::uint32_t n_ref_ids = 0;         // distinct reference tokens: ids below are reference ids
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

std::vector<std::string> tokenize_13a_fast(std::string_view text) {
  std::string storage, line, pad_a, pad_b;
  std::vector<std::string_view> views;
  tokens_13a(valid_utf8(text, storage), line, pad_a, pad_b, views);
  return {views.begin(), views.end()};
}

BleuStats bleu_stats(std::string_view hypothesis, std::string_view reference) {
  thread_local Scratch s;
  // Tokens are views into padded copies (or padded rewrites), as PaddedInterner needs.
  tokens_13a(padded_copy(valid_utf8(hypothesis, s.hyp_storage), s.hyp_pad), s.hyp_line, s.pad_a,
             s.pad_b, s.hyp_tokens);
  tokens_13a(padded_copy(valid_utf8(reference, s.ref_storage), s.ref_pad), s.ref_line, s.pad_a,
             s.pad_b, s.ref_tokens);
  s.interner.clear(s.ref_tokens.size() + s.hyp_tokens.size());
  s.ref_ids.clear();
  s.hyp_ids.clear();
  for (auto t : s.ref_tokens) s.ref_ids.push_back(s.interner.id(t));
  s.n_ref_ids = s.interner.size();
  for (auto t : s.hyp_tokens) s.hyp_ids.push_back(s.interner.id(t));

  BleuStats st;
  st.sys_len = static_cast<std::int64_t>(s.hyp_ids.size());
  st.ref_len = static_cast<std::int64_t>(s.ref_ids.size());
  if (PrefixNgramMatcher::fits(s.ref_ids.size(), s.n_ref_ids)) {
    const size_t nr = s.ref_ids.size(), nh = s.hyp_ids.size();
    PrefixNgramMatcher::to_symbols(s.ref_ids, s.hyp_ids, s.n_ref_ids);
    s.matcher.count(s.ref_ids.data(), nr, s.hyp_ids.data(), nh, s.n_ref_ids, kBleuOrder,
                    st.counts.data());
    for (int n = 1; n <= kBleuOrder; ++n)
      st.totals[n - 1] = std::max<std::int64_t>(0, static_cast<std::int64_t>(nh) - n + 1);
    return st;
  }
  if (s.interner.size() < 0xFFFF) {
    // Unigrams: ids are dense and the reference's come first (ids < n_ref_ids), so a count array
    // does. Orders 2-4 in one table: n ids + 1 packed into 16 bits each are unique across
    // orders. A hypothesis n-gram the reference never had ends the search at that position (no
    // longer n-gram starting there can be in the reference either).
    const auto nr = static_cast<std::int64_t>(s.ref_ids.size());
    const auto nh = static_cast<std::int64_t>(s.hyp_ids.size());
    s.unigrams.assign(s.n_ref_ids, 0);
    for (std::uint32_t id : s.ref_ids) ++s.unigrams[id];
    s.counter.reset(static_cast<size_t>(nr) * (kBleuOrder - 1));
    for (std::int64_t i = 0; i + 1 < nr; ++i) {
      std::uint64_t key = s.ref_ids[static_cast<size_t>(i)] + 1;
      for (std::int64_t n = 1; n < kBleuOrder && i + n < nr; ++n) {
        key = (key << 16) | (s.ref_ids[static_cast<size_t>(i + n)] + 1);
        s.counter.add(key);
      }
    }
    for (std::int64_t i = 0; i < nh; ++i) {
      const std::uint32_t id = s.hyp_ids[static_cast<size_t>(i)];
      if (id >= s.n_ref_ids) continue;
      if (s.unigrams[id] > 0) {
        --s.unigrams[id];
        ++st.counts[0];
      }
      std::uint64_t key = id + 1;
      for (std::int64_t n = 1; n < kBleuOrder && i + n < nh; ++n) {
        key = (key << 16) | (s.hyp_ids[static_cast<size_t>(i + n)] + 1);
        int took = s.counter.take_or_absent(key);
        if (took < 0) break;
        st.counts[static_cast<size_t>(n)] += took;
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
