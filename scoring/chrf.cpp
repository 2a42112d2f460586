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

bool is_ascii_punct(char32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

struct Scratch {
  std::string hyp_storage, ref_storage;
  std::vector<std::string_view> words;
  std::vector<char32_t> hyp_chars, ref_chars;
  std::vector<std::string_view> hyp_words, ref_words;
  std::vector<std::uint32_t> hyp_ids, ref_ids;
  std::vector<std::uint8_t> hyp_dense, ref_dense;
  std::unordered_map<char32_t, std::uint8_t> non_ascii;
  Interner interner;
  NgramTable table;
  NgramTable64 table64;
};

// Maps the pair's code points to dense ids 1..255; false when the pair has more distinct ones.
bool dense_ids(const std::vector<char32_t>& hyp, const std::vector<char32_t>& ref, Scratch& s) {
  std::array<std::uint8_t, 128> ascii{};
  s.non_ascii.clear();
  unsigned next = 1;
  auto map = [&](const std::vector<char32_t>& in, std::vector<std::uint8_t>& out) {
    out.resize(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      char32_t cp = in[i];
      std::uint8_t* id;
      if (cp < 128) {
        id = &ascii[cp];
      } else {
        id = &s.non_ascii[cp];
      }
      if (*id == 0) {
        if (next > 255) return false;
        *id = static_cast<std::uint8_t>(next++);
      }
      out[i] = *id;
    }
    return true;
  };
  return map(ref, s.ref_dense) && map(hyp, s.hyp_dense);
}

// All six character orders in one table: an n-gram of non-zero byte ids packed into n bytes is
// unique across orders.
void char_stats_dense(Scratch& s, std::int64_t* values) {
  const auto& ref = s.ref_dense;
  const auto& hyp = s.hyp_dense;
  const auto nr = static_cast<std::int64_t>(ref.size()), nh = static_cast<std::int64_t>(hyp.size());
  s.table64.reset(static_cast<size_t>(nr) * kChrfCharOrder);
  for (std::int64_t i = 0; i < nr; ++i) {
    std::uint64_t key = 0;
    for (std::int64_t n = 0; n < kChrfCharOrder && i + n < nr; ++n) {
      key = (key << 8) | ref[static_cast<size_t>(i + n)];
      s.table64.add(key);
    }
  }
  std::int64_t matched[kChrfCharOrder] = {};
  for (std::int64_t i = 0; i < nh; ++i) {
    std::uint64_t key = 0;
    for (std::int64_t n = 0; n < kChrfCharOrder && i + n < nh; ++n) {
      key = (key << 8) | hyp[static_cast<size_t>(i + n)];
      matched[n] += s.table64.take(key);
    }
  }
  for (int n = 1; n <= kChrfCharOrder; ++n) {
    const std::int64_t h = std::max<std::int64_t>(0, nh - n + 1),
                       r = std::max<std::int64_t>(0, nr - n + 1);
    values[3 * (n - 1)] = r > 0 ? h : 0;
    values[3 * (n - 1) + 1] = r;
    values[3 * (n - 1) + 2] = (h > 0 && r > 0) ? matched[n - 1] : 0;
  }
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

// sacrebleu CHRF._remove_punctuation: one trailing, else one leading, ASCII punctuation mark
// becomes its own word (words of one code point are kept whole).
void split_punct_words(std::string_view text, std::vector<std::string_view>& words,
                       std::vector<std::string_view>& out) {
  words.clear();
  out.clear();
  py_split(text, words);
  for (auto w : words) {
    if (count_code_points(w) == 1) {
      out.push_back(w);
      continue;
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
  chars_without_space(hyp, s.words, s.hyp_chars);
  chars_without_space(ref, s.words, s.ref_chars);
  auto char_key = [](const char32_t* c, int n) {
    NgramKey k = 0;
    for (int i = 0; i < n; ++i) k = (k << 21) | c[i];  // code points need 21 bits; 6*21 < 128
    return k;
  };
  if (dense_ids(s.hyp_chars, s.ref_chars, s)) {
    char_stats_dense(s, st.values.data());
  } else {
    for (int n = 1; n <= kChrfCharOrder; ++n) {
      order_stats(s.hyp_chars, s.ref_chars, n, s.table, char_key, &st.values[3 * (n - 1)]);
    }
  }
  if (word_order > 0) {
    split_punct_words(hyp, s.words, s.hyp_words);
    split_punct_words(ref, s.words, s.ref_words);
    s.interner.clear();
    s.hyp_ids.clear();
    s.ref_ids.clear();
    for (auto w : s.ref_words) s.ref_ids.push_back(s.interner.id(w));
    for (auto w : s.hyp_words) s.hyp_ids.push_back(s.interner.id(w));
    auto word_key = [](const std::uint32_t* ids, int n) {
      NgramKey k = 0;
      for (int i = 0; i < n; ++i) k = (k << 32) | ids[i];
      return k;
    };
    for (int n = 1; n <= word_order; ++n) {
      order_stats(s.hyp_ids, s.ref_ids, n, s.table, word_key,
                  &st.values[3 * (kChrfCharOrder + n - 1)]);
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
