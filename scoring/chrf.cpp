#include "scoring/chrf.h"

#include <array>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/utf8.h"
#include "scoring/text.h"

namespace assay::scoring {
namespace {

struct Scratch {
  std::string hyp_storage, ref_storage, hyp_pad, ref_pad;
  std::vector<std::uint32_t> hyp_bounds, ref_bounds;  // word bounds from the dense pass
  std::vector<std::string_view> words;
  std::vector<char32_t> hyp_chars, ref_chars;
  std::vector<std::string_view> hyp_words, ref_words;
  std::vector<std::uint32_t> hyp_ids, ref_ids;
  std::vector<std::uint8_t> hyp_dense, ref_dense;
  std::unordered_map<char32_t, std::uint8_t> non_ascii;
  std::array<std::uint8_t, 128> ascii_ids{};
  std::vector<std::int32_t> bigram_counts;  // [id << 8 | id], all zero between pairs
  std::vector<std::int32_t> word_counts;    // per word id, all zero between pairs
  PaddedInterner interner;
  NgramTable table;
  PackedNgramCounter counter;    // pairs whose reference has at most 65535 bytes
  FlatNgramCounter big_counter;  // longer ones
  PrefixNgramMatcher matcher;    // pairs that fit its table
};

// Maps the code points of `text` without whitespace (sacrebleu: ''.join(line.split())) to
// dense ids 1..255 shared by the pair, straight from the UTF-8; false when the pair has more
// distinct code points than that (the caller then takes the general path).
constexpr std::array<bool, 128> make_ascii_space() {
  std::array<bool, 128> t{};
  for (int c = 0; c < 128; ++c) t[c] = (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20);
  return t;
}
constexpr std::array<bool, 128> kAsciiSpace = make_ascii_space();

// With kWords, also the byte offsets where whitespace runs end and begin (the words of
// str.split(): bounds = start0, end0, start1, end1, ...), with no branch per byte either.
template <bool kWords>
bool dense_ids_from_text(std::string_view text, Scratch& s, unsigned& next,
                         std::vector<std::uint8_t>& out, std::vector<std::uint32_t>* bounds) {
  out.resize(text.size());
  if constexpr (kWords) bounds->resize(text.size() + 2);
  size_t n = 0, n_bounds = 0;
  bool prev_space = true;
  const char* d = text.data();
  std::uint8_t* out_ids = out.data();
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(d[i]);
    const auto at = static_cast<std::uint32_t>(i);
    bool space;
    std::uint8_t* id;
    if (c < 0x80) {
      // ASCII without a branch on whitespace: the id (a placeholder for whitespace, see
      // chrf_stats) is written and kept only for non-space bytes.
      ++i;
      std::uint8_t v = s.ascii_ids[c];
      if (v == 0) {
        if (next > 255) return false;
        v = s.ascii_ids[c] = static_cast<std::uint8_t>(next++);
      }
      out_ids[n] = v;
      space = kAsciiSpace[c];
      n += !space;
    } else {
      char32_t cp = utf8::decode(text, i);
      space = utf8::py_isspace(cp);
      if (!space) {
        id = &s.non_ascii[cp];
        if (*id == 0) {
          if (next > 255) return false;
          *id = static_cast<std::uint8_t>(next++);
        }
        out_ids[n++] = *id;
      }
    }
    if constexpr (kWords) {
      (*bounds)[n_bounds] = at;
      n_bounds += space != prev_space;
      prev_space = space;
    }
  }
  out.resize(n);
  if constexpr (kWords) {
    if (!prev_space) (*bounds)[n_bounds++] = static_cast<std::uint32_t>(text.size());
    bounds->resize(n_bounds);
  }
  return true;
}

// All six character orders: orders 1 and 2 in direct-indexed count arrays, orders 3..6 in one
// flat table (an n-gram of non-zero byte ids packed into n bytes is unique across orders).
template <typename Counter>
void char_stats_dense(Scratch& s, Counter& counter, std::int64_t* values) {
  const auto& ref = s.ref_dense;
  const auto& hyp = s.hyp_dense;
  const auto nr = static_cast<std::int64_t>(ref.size()), nh = static_cast<std::int64_t>(hyp.size());
  std::int64_t matched[kChrfCharOrder] = {};
  std::int32_t uni[256] = {};
  auto& bi = s.bigram_counts;
  if (bi.empty()) bi.assign(1 << 16, 0);
  counter.reset(static_cast<size_t>(nr) * (kChrfCharOrder - 2));
  for (std::int64_t i = 0; i < nr; ++i) {
    ++uni[ref[static_cast<size_t>(i)]];
    if (i + 1 < nr) ++bi[(ref[static_cast<size_t>(i)] << 8) | ref[static_cast<size_t>(i + 1)]];
    if (i + 2 >= nr) continue;
    std::uint64_t key =
        (std::uint64_t{ref[static_cast<size_t>(i)]} << 8) | ref[static_cast<size_t>(i + 1)];
    for (std::int64_t n = 2; n < kChrfCharOrder && i + n < nr; ++n) {
      key = (key << 8) | ref[static_cast<size_t>(i + n)];
      counter.add(key);
    }
  }
  for (std::int64_t i = 0; i < nh; ++i) {
    const std::uint8_t c0 = hyp[static_cast<size_t>(i)];
    if (uni[c0] > 0) {
      --uni[c0];
      ++matched[0];
    }
    if (i + 1 >= nh) continue;
    const std::uint8_t c1 = hyp[static_cast<size_t>(i + 1)];
    auto& b = bi[(c0 << 8) | c1];
    if (b > 0) {
      --b;
      ++matched[1];
    }
    std::uint64_t key = (std::uint64_t{c0} << 8) | c1;
    for (std::int64_t n = 2; n < kChrfCharOrder && i + n < nh; ++n) {
      key = (key << 8) | hyp[static_cast<size_t>(i + n)];
      int took = counter.take_or_absent(key);
      if (took < 0) break;  // no longer n-gram starting here is in the reference either
      matched[n] += took;
    }
  }
  // Leave the bigram array all zero for the next pair.
  for (std::int64_t i = 0; i + 1 < nr; ++i)
    bi[(ref[static_cast<size_t>(i)] << 8) | ref[static_cast<size_t>(i + 1)]] = 0;
  for (int n = 1; n <= kChrfCharOrder; ++n) {
    const std::int64_t h = std::max<std::int64_t>(0, nh - n + 1),
                       r = std::max<std::int64_t>(0, nr - n + 1);
    values[3 * (n - 1)] = r > 0 ? h : 0;
    values[3 * (n - 1) + 1] = r;
    values[3 * (n - 1) + 2] = (h > 0 && r > 0) ? matched[n - 1] : 0;
  }
}

// [hyp n-grams, ref n-grams, matches] of orders 1..orders from PrefixNgramMatcher's match counts
// over sequences of nh and nr symbols (sacrebleu: no hits counted where the reference has none).
void prefix_order_values(const std::int64_t* matched, size_t nh, size_t nr, int orders,
                         std::int64_t* values) {
  for (int n = 1; n <= orders; ++n) {
    const auto h = static_cast<std::int64_t>(nh >= static_cast<size_t>(n) ? nh - n + 1 : 0);
    const auto r = static_cast<std::int64_t>(nr >= static_cast<size_t>(n) ? nr - n + 1 : 0);
    values[3 * (n - 1)] = r > 0 ? h : 0;
    values[3 * (n - 1) + 1] = r;
    values[3 * (n - 1) + 2] = (h > 0 && r > 0) ? matched[n - 1] : 0;
  }
}

// All six character orders through PrefixNgramMatcher (dense char ids 1..n_chars).
void char_stats_prefix_ids(Scratch& s, unsigned n_chars, std::int64_t* values) {
  const size_t nr = s.ref_dense.size(), nh = s.hyp_dense.size();
  std::int64_t matched[kChrfCharOrder];
  s.matcher.count(s.ref_dense.data(), nr, s.hyp_dense.data(), nh, n_chars, kChrfCharOrder, matched);
  prefix_order_values(matched, nh, nr, kChrfCharOrder, values);
}

// Code points of the text without whitespace (sacrebleu: ''.join(line.split())).
void chars_without_space(std::string_view text, std::vector<std::string_view>& words,
                         std::vector<char32_t>& out) {
  words.clear();
  out.clear();
  py_split(text, words);
  for (auto w : words) {
    size_t pos = 0;
    while (pos < w.size()) {
      auto c = static_cast<unsigned char>(w[pos]);
      out.push_back(c < 0x80 ? (++pos, c) : utf8::decode(w, pos));
    }
  }
}

// sacrebleu CHRF._remove_punctuation on words: one trailing, else one leading, ASCII
// punctuation mark becomes its own word (words of one code point are kept whole).
inline void split_punct_word(std::string_view w, std::vector<std::string_view>& out) {
  // One code point: one byte, or a lead byte whose sequence is the whole word (valid UTF-8).
  const auto lead = static_cast<unsigned char>(w[0]);
  const size_t cp_len = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (w.size() == cp_len) {
    out.push_back(w);
    return;
  }
  // Punctuation is ASCII, so one byte at either end.
  auto last = static_cast<unsigned char>(w.back());
  auto first = static_cast<unsigned char>(w.front());
  if (is_ascii_punct(last)) {
    out.push_back(w.substr(0, w.size() - 1));
    out.push_back(w.substr(w.size() - 1));
  } else if (is_ascii_punct(first)) {
    out.push_back(w.substr(0, 1));
    out.push_back(w.substr(1));
  } else {
    out.push_back(w);
  }
}

void split_punct(const std::vector<std::string_view>& words, std::vector<std::string_view>& out) {
  for (auto w : words) split_punct_word(w, out);
}

// sacrebleu CHRF._remove_punctuation: one trailing, else one leading, ASCII punctuation mark
// becomes its own word (words of one code point are kept whole).
void split_punct_words(std::string_view text, std::vector<std::string_view>& words,
                       std::vector<std::string_view>& out) {
  words.clear();
  out.clear();
  py_split(text, words);
  split_punct(words, out);
}

// The same from word bounds (start0, end0, start1, ...) found by dense_ids_from_text<true>.
void split_punct_words(std::string_view text, const std::vector<std::uint32_t>& bounds,
                       std::vector<std::string_view>& out) {
  out.clear();
  for (size_t k = 0; k + 1 < bounds.size(); k += 2)
    split_punct_word(text.substr(bounds[k], bounds[k + 1] - bounds[k]), out);
}

template <typename T, typename KeyFn>
void order_stats(const std::vector<T>& hyp, const std::vector<T>& ref, int n, NgramTable& table,
                 KeyFn key, std::int64_t* out) {
  const auto nh = static_cast<std::int64_t>(hyp.size()) - n + 1;
  const auto nr = static_cast<std::int64_t>(ref.size()) - n + 1;
  // sacrebleu: "don't count hits if no reference exists for that n-gram" (the hypothesis count
  // is 0 when the reference has no n-grams of this order).
  out[0] = nr > 0 ? std::max<std::int64_t>(nh, 0) : 0;
  out[1] = std::max<std::int64_t>(nr, 0);
  out[2] = 0;
  if (nh <= 0 || nr <= 0) return;
  table.reset(static_cast<size_t>(nr));
  for (std::int64_t i = 0; i < nr; ++i) table.add(key(ref.data() + i, n));
  std::int64_t matched = 0;
  for (std::int64_t i = 0; i < nh; ++i) matched += table.take(key(hyp.data() + i, n));
  out[2] = matched;
}

// Word orders 1 and 2 of chrF++ over interned word ids (ids < n_words): unigrams counted in an
// array by id, bigrams in a flat table keyed by both ids.
void word_stats(const std::vector<std::uint32_t>& hyp, const std::vector<std::uint32_t>& ref,
                std::uint32_t n_words, int word_order, Scratch& s, std::int64_t* values) {
  for (int n = 1; n <= word_order; ++n) {
    std::int64_t* out = values + 3 * (n - 1);
    const auto nh = static_cast<std::int64_t>(hyp.size()) - n + 1;
    const auto nr = static_cast<std::int64_t>(ref.size()) - n + 1;
    // sacrebleu: "don't count hits if no reference exists for that n-gram".
    out[0] = nr > 0 ? std::max<std::int64_t>(nh, 0) : 0;
    out[1] = std::max<std::int64_t>(nr, 0);
    out[2] = 0;
    if (nh <= 0 || nr <= 0) continue;
    std::int64_t matched = 0;
    if (n == 1) {
      if (s.word_counts.size() < n_words) s.word_counts.resize(n_words, 0);
      std::int32_t* cnt = s.word_counts.data();
      for (std::uint32_t id : ref) ++cnt[id];
      for (std::uint32_t id : hyp) {
        const int avail = cnt[id] > 0;
        cnt[id] -= avail;
        matched += avail;
      }
      for (std::uint32_t id : ref) cnt[id] = 0;
    } else {
      auto key = [](const std::uint32_t* ids) {
        return (std::uint64_t{ids[0]} + 1) << 32 | (std::uint64_t{ids[1]} + 1);  // never 0
      };
      s.big_counter.reset(static_cast<size_t>(nr));
      for (std::int64_t i = 0; i < nr; ++i) s.big_counter.add(key(ref.data() + i));
      for (std::int64_t i = 0; i < nh; ++i) matched += s.big_counter.take(key(hyp.data() + i));
    }
    out[2] = matched;
  }
}

}  // namespace

ChrfStats& ChrfStats::operator+=(const ChrfStats& o) {
  for (size_t i = 0; i < values.size(); ++i) values[i] += o.values[i];
  word_order = o.word_order;
  return *this;
}

ChrfStats chrf_stats(std::string_view hypothesis, std::string_view reference, int word_order) {
  if (word_order < 0 || word_order > kChrfMaxWordOrder) {
    throw_invalid("chrF: word_order must be 0, 1 or 2, got " + std::to_string(word_order));
  }
  thread_local Scratch s;
  std::string_view hyp = valid_utf8(hypothesis, s.hyp_storage);
  std::string_view ref = valid_utf8(reference, s.ref_storage);
  ChrfStats st;
  st.word_order = word_order;
  auto char_key = [](const char32_t* c, int n) {
    NgramKey k = 0;
    for (int i = 0; i < n; ++i) k = (k << 21) | c[i];  // code points need 21 bits; 6*21 < 128
    return k;
  };
  s.ascii_ids.fill(0);
  for (int c = 0; c < 128; ++c)  // whitespace: a placeholder id, never kept
    if (kAsciiSpace[c]) s.ascii_ids[c] = 0xFF;
  s.non_ascii.clear();
  unsigned next_id = 1;
  // chrF++ takes its words from the same pass (word bounds) when the dense path applies.
  const bool dense =
      word_order > 0 ? dense_ids_from_text<true>(ref, s, next_id, s.ref_dense, &s.ref_bounds) &&
                           dense_ids_from_text<true>(hyp, s, next_id, s.hyp_dense, &s.hyp_bounds)
                     : dense_ids_from_text<false>(ref, s, next_id, s.ref_dense, nullptr) &&
                           dense_ids_from_text<false>(hyp, s, next_id, s.hyp_dense, nullptr);
  if (dense) {
    const unsigned n_chars = next_id - 1;
    if (PrefixNgramMatcher::fits(s.ref_dense.size(), n_chars)) {
      char_stats_prefix_ids(s, n_chars, st.values.data());
    } else if (ref.size() <= PackedNgramCounter::kMaxAdds) {
      char_stats_dense(s, s.counter, st.values.data());
    } else {
      char_stats_dense(s, s.big_counter, st.values.data());
    }
  } else {
    chars_without_space(hyp, s.words, s.hyp_chars);
    chars_without_space(ref, s.words, s.ref_chars);
    for (int n = 1; n <= kChrfCharOrder; ++n) {
      order_stats(s.hyp_chars, s.ref_chars, n, s.table, char_key, &st.values[3 * (n - 1)]);
    }
  }
  if (word_order > 0) {
    // Words are views into padded copies, as PaddedInterner needs.
    const std::string_view hyp_p = padded_copy(hyp, s.hyp_pad), ref_p = padded_copy(ref, s.ref_pad);
    if (dense) {
      split_punct_words(hyp_p, s.hyp_bounds, s.hyp_words);
      split_punct_words(ref_p, s.ref_bounds, s.ref_words);
    } else {
      split_punct_words(hyp_p, s.words, s.hyp_words);
      split_punct_words(ref_p, s.words, s.ref_words);
    }
    s.interner.clear(s.ref_words.size() + s.hyp_words.size());
    s.hyp_ids.clear();
    s.ref_ids.clear();
    for (auto w : s.ref_words) s.ref_ids.push_back(s.interner.id(w));
    const std::uint32_t n_ref_ids = s.interner.size();
    for (auto w : s.hyp_words) s.hyp_ids.push_back(s.interner.id(w));
    std::int64_t* values = &st.values[3 * kChrfCharOrder];
    const size_t nr = s.ref_ids.size(), nh = s.hyp_ids.size();
    if (PrefixNgramMatcher::fits(nr, n_ref_ids)) {
      PrefixNgramMatcher::to_symbols(s.ref_ids, s.hyp_ids, n_ref_ids);
      std::int64_t matched[kChrfMaxWordOrder];
      s.matcher.count(s.ref_ids.data(), nr, s.hyp_ids.data(), nh, n_ref_ids, word_order, matched);
      prefix_order_values(matched, nh, nr, word_order, values);
    } else {
      word_stats(s.hyp_ids, s.ref_ids, s.interner.size(), word_order, s, values);
    }
  }
  return st;
}

double chrf_score(const ChrfStats& stats) {
  constexpr double kEps = 1e-16;
  constexpr double kFactor = 4.0;  // beta ** 2
  const int order = kChrfCharOrder + stats.word_order;
  int effective_order = 0;
  double avg_prec = 0.0, avg_rec = 0.0;
  for (int i = 0; i < order; ++i) {
    const auto n_hyp = stats.values[3 * i], n_ref = stats.values[3 * i + 1];
    const auto n_match = stats.values[3 * i + 2];
    double prec = n_hyp > 0 ? static_cast<double>(n_match) / static_cast<double>(n_hyp) : kEps;
    double rec = n_ref > 0 ? static_cast<double>(n_match) / static_cast<double>(n_ref) : kEps;
    if (n_hyp > 0 && n_ref > 0) {  // effective-order averaging (sacrebleu < 2.0 style)
      avg_prec += prec;
      avg_rec += rec;
      ++effective_order;
    }
  }
  if (effective_order == 0) return 0.0;
  avg_prec /= effective_order;
  avg_rec /= effective_order;
  if (avg_prec + avg_rec == 0.0) return 0.0;
  double score = (1 + kFactor) * avg_prec * avg_rec;
  score /= (kFactor * avg_prec) + avg_rec;
  return 100 * score;
}

double sentence_chrf(std::string_view hypothesis, std::string_view reference, int word_order) {
  return chrf_score(chrf_stats(hypothesis, reference, word_order));
}

}  // namespace assay::scoring
