#include "scoring/squad.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "core/utf8.h"
#include "scoring/text.h"

namespace assay::scoring {

namespace detail {
bool squad_no_compact = false;
bool squad_no_small_overlap = false;
bool squad_no_vbmi_classify = false;
bool squad_no_avx512 = false;
bool squad_no_pext = false;
}  // namespace detail

namespace {

// Code points whose lower case is themselves (no special casing, no final-sigma context): Latin-1
// punctuation and lower-case letters, general punctuation, super/subscripts, currency, CJK,
// kana, Hangul, Yi, fullwidth forms other than the capitals, emoji. Checked code point by code
// point against utf8::py_lower (squad_fast_test).
constexpr bool lower_is_identity(char32_t cp) {
  return (cp >= 0xA0 && cp <= 0xBF) || cp == 0xD7 || (cp >= 0xDF && cp <= 0xFF) ||
         (cp >= 0x2000 && cp <= 0x20FF) || (cp >= 0x3000 && cp <= 0xA63F) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFF00 && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFFEF) ||
         (cp >= 0x1F000 && cp <= 0x1FAFF);
}

}  // namespace

namespace detail {
bool squad_lower_simple(std::string_view chunk, std::string& out) {
  out.assign(chunk.data(), chunk.size());  // reuses out's capacity
  char* p = out.data();
  const size_t size = chunk.size();
  size_t i = 0;
  while (i < size) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x80) {
      p[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      ++i;
      continue;
    }
    size_t next = i;
    const char32_t cp = utf8::decode(chunk, next);
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) {
      p[i + 1] = static_cast<char>(p[i + 1] + 0x20);  // U+00C0-U+00DE: +0x20, same lead byte
    } else if (cp == utf8::kReplacement || !lower_is_identity(cp)) {
      return false;  // invalid UTF-8 (or U+FFFD itself), or a code point py_lower must map
    }
    i = next;
  }
  return true;
}
}  // namespace detail

namespace {

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

constexpr std::array<char, 256> make_lower() {
  std::array<char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return t;
}
constexpr std::array<char, 256> kLower = make_lower();

inline bool is_article(const char* r, size_t len) {
  return (len == 1 && r[0] == 'a') || (len == 2 && r[0] == 'a' && r[1] == 'n') ||
         (len == 3 && r[0] == 't' && r[1] == 'h' && r[2] == 'e');
}

// The general path for one chunk of text between ASCII whitespace that holds a byte >= 0x80 or
// an ASCII control character: the chunk is lower-cased by utf8::py_lower (full Unicode casing,
// invalid bytes as U+FFFD; the final-sigma context never crosses whitespace, so lower-casing the
// chunk alone equals lower-casing the whole text), then scanned by word runs: punctuation
// dropped, each maximal run of word characters that is exactly "a", "an" or "the" acting as a
// space (that is \b(a|an|the)\b on the punctuation-free text), tokens split on Unicode
// whitespace. Writes the token bytes to w[n...] (at most 3 * chunk.size() + 1 bytes) and calls
// emit(view) per token; returns false when emit did.
template <typename Emit>
bool general_chunk(std::string_view chunk, std::string& lowered, char* w, size_t& n, Emit&& emit) {
  if (!detail::squad_lower_simple(chunk, lowered)) lowered = utf8::py_lower(chunk);
  const std::string_view src = lowered;
  const char* d = src.data();
  const size_t size = src.size();
  size_t tok_start = SIZE_MAX;  // start of the current token in w, SIZE_MAX = none
  size_t i = 0;
  while (i < size) {
    // One word run: ASCII word characters (lower-cased), punctuation (dropped: it is removed
    // before the article regex runs, so "a.b" is one run) and non-ASCII word characters.
    const size_t run_start = n;
    std::uint8_t cls = kOther;
    size_t len = 1;
    for (;;) {
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
        if (tok_start != SIZE_MAX && run_start > tok_start &&
            !emit(std::string_view(w + tok_start, run_start - tok_start)))
          return false;
        tok_start = SIZE_MAX;
        n = run_start;
      } else if (tok_start == SIZE_MAX) {
        tok_start = run_start;
      }
    }
    if (i >= size) break;
    // d[i] is whitespace or another non-word character (len bytes).
    if (cls == kSpace) {
      if (tok_start != SIZE_MAX && n > tok_start &&
          !emit(std::string_view(w + tok_start, n - tok_start)))
        return false;
      tok_start = SIZE_MAX;
    } else {
      if (tok_start == SIZE_MAX) tok_start = n;
      std::memcpy(w + n, d + i, len);
      n += len;
    }
    i += len;
  }
  if (tok_start != SIZE_MAX && n > tok_start)
    return emit(std::string_view(w + tok_start, n - tok_start));
  return true;
}

// Per-byte class bits of a text, 64 bytes to a word: ASCII whitespace, ASCII punctuation (which
// a token drops) and bytes only the general path handles (>= 0x80 and ASCII control
// characters).
#if defined(__SSE2__)
// Class bits of 16 bytes (SSE2 is part of x86-64, so no dispatch is needed).
inline void classify16(const char* p, std::uint32_t& space, std::uint32_t& punct,
                       std::uint32_t& slow) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  auto gt = [&](int c) { return _mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(c))); };
  auto lt = [&](int c) { return _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(c))); };
  // Signed compares: bytes >= 0x80 are negative, so below every ASCII bound.
  const __m128i sp =
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x20)),
                   _mm_or_si128(_mm_and_si128(gt(8), lt(14)), _mm_and_si128(gt(0x1b), lt(0x20))));
  const __m128i ctrl = _mm_or_si128(_mm_andnot_si128(sp, _mm_and_si128(gt(-1), lt(0x20))),
                                    _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
  // Letters are 0x41-0x5a and 0x61-0x7a: bit 0x20 set gives 0x61-0x7a for both cases.
  const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
  const __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8(0x60)),
                                      _mm_cmplt_epi8(folded, _mm_set1_epi8(0x7b)));
  const __m128i digit = _mm_and_si128(gt(0x2f), lt(0x3a));
  const __m128i printable = _mm_and_si128(gt(0x20), lt(0x7f));
  const __m128i pu = _mm_andnot_si128(_mm_or_si128(alpha, digit), printable);
  space = static_cast<std::uint32_t>(_mm_movemask_epi8(sp));
  punct = static_cast<std::uint32_t>(_mm_movemask_epi8(pu));
  slow = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_or_si128(ctrl, v)));
}
#endif

// A normalised token: its first 16 bytes as two little-endian words (zero past the end), its
// length and where all its bytes are. Two tokens are equal when lo, hi and len are (and, past
// 16 bytes, the rest).
struct Tok {
  std::uint64_t lo, hi;
  const char* data;
  std::uint32_t len;
  bool operator==(const Tok& o) const {
    // One branch for the common case (bitwise &): the words differ, or they match at <= 16 bytes.
    const bool words = (lo == o.lo) & (hi == o.hi) & (len == o.len);
    if (len > 16 && words) return std::memcmp(data + 16, o.data + 16, len - 16) == 0;  // rare
    return words;
  }
  bool is_article() const {  // "a", "an", "the" (token bytes are never 0)
    return (len <= 3) & ((lo == 0x61) | (lo == 0x6e61) | (lo == 0x656874));
  }
};

#if !defined(__SSE2__)  // make_tok's portable form
inline std::uint64_t load8(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// Mask of the first `len` bytes of a word, len <= 8.
inline std::uint64_t byte_mask(size_t len) {
  return len >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * len)) - 1;
}

// ASCII upper case to lower case in 8 bytes that are all < 0x80 (SWAR: no carry crosses bytes).
inline std::uint64_t lower8(std::uint64_t x) {
  constexpr std::uint64_t k = 0x0101010101010101ULL;
  const std::uint64_t ge_a = x + 0x3f * k;  // high bit set where x >= 'A'
  const std::uint64_t gt_z = x + 0x25 * k;  // high bit set where x > 'Z'
  return x | (((ge_a & ~gt_z) & (0x80 * k)) >> 2);
}
#endif

// Tok of len bytes at p, 16 bytes of which are readable; lower-cases them when `lower` (bytes
// < 0x80 only).
#if defined(__SSE2__)
// 16 bytes 0xFF then 16 bytes 0: loaded from 16 - len, the mask of the first len bytes.
alignas(32) constexpr std::uint8_t kFirstBytes[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
#endif

inline Tok make_tok(const char* p, size_t len, bool lower) {
  Tok t;
#if defined(__SSE2__)
  // One load, mask and (ASCII) lower-casing for both words.
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  v = _mm_and_si128(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kFirstBytes + 16 -
                                                                        (len < 16 ? len : 16))));
  if (lower) {
    const __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x40)),
                                        _mm_cmplt_epi8(v, _mm_set1_epi8(0x5b)));
    v = _mm_or_si128(v, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
  }
  t.lo = static_cast<std::uint64_t>(_mm_cvtsi128_si64(v));
  t.hi = static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)));
#else
  t.lo = load8(p) & byte_mask(len);
  t.hi = load8(p + 8) & byte_mask(len > 8 ? len - 8 : 0);
  if (lower) {
    t.lo = lower8(t.lo);
    t.hi = lower8(t.hi);
  }
#endif
  t.data = p;
  t.len = static_cast<std::uint32_t>(len);
  return t;
}

// One side's scratch: the text copied with zero padding (so that 16 bytes can be read from any
// token start), its class masks, chunk boundaries, and the tokens.
struct SideScratch {
  std::string text;
  std::vector<std::uint64_t> space, flag, slow;  // flag = punctuation or slow
  std::vector<std::uint32_t> starts, ends;
  std::string buf, lowered;
  std::vector<Tok> toks;
  size_t chunks = 0;      // chunks found by prepare()
  size_t next_chunk = 0;  // first chunk advance() has not tokenised
  size_t buf_used = 0;    // bytes of buf holding tokens
  size_t n_toks = 0;      // tokens made
  bool compact = false;   // prepare() took the compacted ASCII path: chunks index into buf
  std::vector<std::uint64_t> cspace;  // whitespace mask of the compacted text
  // compact_tokens() (AVX2): words of cspace, and where it stopped.
  size_t cwords = 0, cword = 0;
  std::uint64_t cedges = 0;
  std::uint32_t cstart = 0;
  bool copen = false;
  bool edge_tokens = false;  // prepare() took the AVX2 compacted path: tokens by compact_tokens()
};

#if defined(__x86_64__) && defined(__GNUC__)
// The same class bits for 64 bytes at once with AVX-512BW compares into mask registers, used
// when the CPU has them (checked at run time; the binary targets plain x86-64).
__attribute__((target("avx512bw"))) inline std::uint64_t cmp_gt(__m512i v, int c) {
  return _mm512_cmpgt_epi8_mask(v, _mm512_set1_epi8(static_cast<char>(c)));
}
__attribute__((target("avx512bw"))) inline std::uint64_t cmp_lt(__m512i v, int c) {
  return _mm512_cmplt_epi8_mask(v, _mm512_set1_epi8(static_cast<char>(c)));
}
// 64 bytes from p, of which `avail` are the text's: the rest read as zero, and not read at all
// (a masked load), so the text needs no padding.
__attribute__((target("avx512bw"))) inline __m512i load_block(const char* p, size_t avail) {
  if (avail >= 64) return _mm512_loadu_si512(p);
  return _mm512_maskz_loadu_epi8((std::uint64_t{1} << avail) - 1, p);
}

__attribute__((target("avx512bw"))) void classify_blocks_avx512(const char* d, size_t size,
                                                                std::uint64_t* space,
                                                                std::uint64_t* flag,
                                                                std::uint64_t* slow) {
  const size_t n_blocks = (size + 63) / 64;
  for (size_t w = 0; w < n_blocks; ++w) {
    const __m512i v = load_block(d + w * 64, size - w * 64);
    // Signed compares: bytes >= 0x80 are negative, so below every ASCII bound.
    const std::uint64_t sp = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(0x20)) |
                             (cmp_gt(v, 8) & cmp_lt(v, 14)) | (cmp_gt(v, 0x1b) & cmp_lt(v, 0x20));
    const std::uint64_t ctrl =
        (cmp_gt(v, -1) & cmp_lt(v, 0x20) & ~sp) | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(0x7f));
    const __m512i folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
    const std::uint64_t alpha = cmp_gt(folded, 0x60) & cmp_lt(folded, 0x7b);
    const std::uint64_t digit = cmp_gt(v, 0x2f) & cmp_lt(v, 0x3a);
    const std::uint64_t punct = cmp_gt(v, 0x20) & cmp_lt(v, 0x7f) & ~(alpha | digit);
    const std::uint64_t sl = ctrl | _mm512_movepi8_mask(v);
    space[w] = sp;
    flag[w] = punct | sl;
    slow[w] = sl;
  }
}

// The same with one byte permute (AVX-512 VBMI): a 128-entry class table indexed by the low 7
// bits (bit 0 whitespace, bit 1 punctuation, bit 2 control), bytes >= 0x80 by their sign bit.
constexpr std::array<std::uint8_t, 128> make_class_bits() {
  std::array<std::uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    const std::uint8_t k = kSquadClass[static_cast<size_t>(c)];
    t[static_cast<size_t>(c)] = k == kSpace ? 1 : k == kPunct ? 2 : k == kOther ? 4 : 0;
  }
  return t;
}
alignas(64) constexpr std::array<std::uint8_t, 128> kClassBits = make_class_bits();

__attribute__((target("avx512bw,avx512vbmi"))) void classify_blocks_vbmi(const char* d, size_t size,
                                                                         std::uint64_t* space,
                                                                         std::uint64_t* flag,
                                                                         std::uint64_t* slow) {
  const __m512i lo = _mm512_load_si512(kClassBits.data());
  const __m512i hi = _mm512_load_si512(kClassBits.data() + 64);
  const size_t n_blocks = (size + 63) / 64;
  for (size_t w = 0; w < n_blocks; ++w) {
    const __m512i v = load_block(d + w * 64, size - w * 64);
    const __m512i cls = _mm512_permutex2var_epi8(lo, v, hi);
    const std::uint64_t high = _mm512_movepi8_mask(v);
    const std::uint64_t sl = _mm512_test_epi8_mask(cls, _mm512_set1_epi8(4)) | high;
    space[w] = _mm512_test_epi8_mask(cls, _mm512_set1_epi8(1)) & ~high;
    flag[w] = (_mm512_test_epi8_mask(cls, _mm512_set1_epi8(2)) & ~high) | sl;
    slow[w] = sl;
  }
}

// What the CPU has (checked once; the binary targets plain x86-64). The AVX-512 probes answer
// false while detail::squad_no_avx512 is set, so that tests run the AVX2 paths on any CPU.
bool have_avx512vbmi() {
  static const bool ok = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi");
  return ok && !detail::squad_no_avx512;
}

bool have_avx512bw() {
  static const bool ok = __builtin_cpu_supports("avx512bw");
  return ok && !detail::squad_no_avx512;
}

bool have_avx512vbmi2() {
  static const bool ok =
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi2");
  return ok && !detail::squad_no_avx512;
}

bool have_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
  return ok;
}

// 16 byte positions widened to 32 bits, plus `add`, stored at out.
__attribute__((target("avx512bw,avx512vbmi2"))) inline void put_positions(std::uint32_t* out,
                                                                          __m128i part,
                                                                          __m512i add) {
  _mm512_storeu_si512(out, _mm512_add_epi32(_mm512_maskz_cvtepu8_epi32(0xFFFF, part), add));
}

// Positions of the set bits of `bits` (a 64-bit word at `base`) appended to out[n...], 16 at a
// time with a byte compress (writes up to 15 entries past the last one).
__attribute__((target("avx512bw,avx512vbmi2"))) inline size_t append_bits(std::uint64_t bits,
                                                                          std::uint32_t base,
                                                                          std::uint32_t* out,
                                                                          size_t n) {
  const __m512i index = _mm512_set_epi8(
      63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41,
      40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
      17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i packed = _mm512_maskz_compress_epi8(bits, index);
  const auto count = static_cast<size_t>(__builtin_popcountll(bits));
  const __m512i add = _mm512_set1_epi32(static_cast<int>(base));
  put_positions(out + n, _mm512_maskz_extracti32x4_epi32(0xF, packed, 0), add);
  if (count > 16) {  // rare: more than 16 chunk bounds in 64 bytes
    put_positions(out + n + 16, _mm512_maskz_extracti32x4_epi32(0xF, packed, 1), add);
    if (count > 32)
      put_positions(out + n + 32, _mm512_maskz_extracti32x4_epi32(0xF, packed, 2), add);
    if (count > 48)
      put_positions(out + n + 48, _mm512_maskz_extracti32x4_epi32(0xF, packed, 3), add);
  }
  return n + count;
}

// Chunk starts (non-space after space) and ends (space after non-space) from the whitespace
// mask; returns the number of chunks. starts/ends need 16 entries of slack.
__attribute__((target("avx512bw,avx512vbmi2"))) size_t chunk_bounds_avx512(
    const std::uint64_t* space, size_t words, std::uint32_t* starts, std::uint32_t* ends) {
  size_t n_start = 0, n_end = 0;
  std::uint64_t carry = 1;  // the byte before the text counts as a space
  for (size_t w = 0; w < words; ++w) {
    const std::uint64_t sp = space[w], prev = (sp << 1) | carry;
    carry = sp >> 63;
    const auto base = static_cast<std::uint32_t>(w * 64);
    n_start = append_bits(~sp & prev, base, starts, n_start);
    n_end = append_bits(sp & ~prev, base, ends, n_end);
  }
  return n_start;  // == n_end
}

// The compacted ASCII path (text with no byte >= 0x80 and no control character): each 64-byte
// block is lower-cased and its punctuation bytes squeezed out with a byte compress, and its
// whitespace mask squeezed the same way (pext), so the tokens are then exactly the runs of
// non-whitespace of the compacted text (removing punctuation first is what the script does:
// "a.b" is one token, a chunk of punctuation alone vanishes). Writes the compacted bytes to
// out (64 bytes of slack) and their whitespace mask to cspace (blocks + 2 words; the bits past
// the compacted length are whitespace); returns the compacted length.
__attribute__((target("avx512bw,avx512vbmi2,bmi2"))) size_t compact_ascii_avx512(
    const char* d, size_t size, const std::uint64_t* space, const std::uint64_t* flag, char* out,
    std::uint64_t* cspace) {
  size_t n = 0;
  cspace[0] = 0;
  const size_t blocks = (size + 63) / 64;
  for (size_t w = 0; w < blocks; ++w) {
    const __m512i v = load_block(d + w * 64, size - w * 64);
    const std::uint64_t upper = cmp_gt(v, 0x40) & cmp_lt(v, 0x5b);
    const __m512i lv = _mm512_mask_add_epi8(v, upper, v, _mm512_set1_epi8(0x20));
    const std::uint64_t keep = ~flag[w];
    _mm512_storeu_si512(out + n, _mm512_maskz_compress_epi8(keep, lv));
    const std::uint64_t cs = _pext_u64(space[w], keep);
    const size_t i = n / 64, b = n % 64;
    cspace[i] |= cs << b;
    cspace[i + 1] = b ? cs >> (64 - b) : 0;
    n += static_cast<size_t>(__builtin_popcountll(keep));
  }
  // Whitespace past the end: the rest of the last word and one more word.
  const size_t i = n / 64, b = n % 64;
  cspace[i] |= ~std::uint64_t{0} << b;
  cspace[i + 1] = ~std::uint64_t{0};
  std::memset(out + n, 0, 16);
  return n;
}

// The same classification and compaction with AVX2 (CPUs without AVX-512): 32 bytes a compare,
// and the punctuation squeezed out 8 bytes at a time by a byte shuffle from a table.

// 64 readable bytes of block w of the text. In place when they lie in the text, or when the
// text ends in the block but the 64 bytes do not cross a page (reading past the end of a
// buffer inside its page cannot fault; the bytes past the end are never used: every mask is
// cut at the end); else the block's bytes copied into tmp. Copying the tail of every text
// made each vector load wait for the copy's narrower stores (no store forwarding): most
// answers are shorter than 64 bytes. Callers are not instrumented by ASan for this reason.
inline const char* block_at(const char* d, size_t size, size_t w, char* tmp) {
  const char* p = d + w * 64;
  const size_t avail = size - w * 64;
  if (avail >= 64 || (reinterpret_cast<std::uintptr_t>(p) & 4095) <= 4096 - 64) return p;
  std::memset(tmp, 0, 64);
  std::memcpy(tmp, p, avail);
  return tmp;
}

// kCompress8[m]: the positions of the set bits of m in order, one per byte (the rest 0): the
// shuffle that squeezes the kept bytes of 8 to the front.
constexpr std::array<std::uint64_t, 256> make_compress8() {
  std::array<std::uint64_t, 256> t{};
  for (unsigned m = 0; m < 256; ++m) {
    std::uint64_t v = 0;
    unsigned k = 0;
    for (unsigned b = 0; b < 8; ++b)
      if (m & (1u << b)) v |= std::uint64_t{b} << (8 * k++);
    t[m] = v;
  }
  return t;
}
alignas(64) constexpr std::array<std::uint64_t, 256> kCompress8 = make_compress8();

// The byte classes of 32 bytes for compact_ascii_avx2: whitespace, punctuation and slow bits,
// and the bytes with letters lower-cased. Constants are taken as arguments so that they are
// made once per text.
struct Classes32 {
  __m256i c08, c0e, c1b, c21, c20, c7f, c60, c7b, c2f, c3a, lower_bit;
};

__attribute__((target("avx2"))) inline Classes32 classes32() {
  return {_mm256_set1_epi8(8),    _mm256_set1_epi8(14),   _mm256_set1_epi8(0x1b),
          _mm256_set1_epi8(0x21), _mm256_set1_epi8(0x20), _mm256_set1_epi8(0x7f),
          _mm256_set1_epi8(0x60), _mm256_set1_epi8(0x7b), _mm256_set1_epi8(0x2f),
          _mm256_set1_epi8(0x3a), _mm256_set1_epi8(0x20)};
}

__attribute__((target("avx2"))) inline void classify32(const Classes32& k, __m256i v,
                                                       std::uint32_t& space, std::uint32_t& punct,
                                                       std::uint32_t& slow, __m256i& lower) {
  // Signed compares: bytes >= 0x80 are negative, so below every ASCII bound.
  const __m256i s =
      _mm256_or_si256(_mm256_and_si256(_mm256_cmpgt_epi8(v, k.c08), _mm256_cmpgt_epi8(k.c0e, v)),
                      _mm256_and_si256(_mm256_cmpgt_epi8(v, k.c1b), _mm256_cmpgt_epi8(k.c21, v)));
  // Below 0x20 (bytes >= 0x80 included) and not whitespace, or DEL.
  const __m256i ctrl = _mm256_or_si256(_mm256_andnot_si256(s, _mm256_cmpgt_epi8(k.c20, v)),
                                       _mm256_cmpeq_epi8(v, k.c7f));
  const __m256i folded = _mm256_or_si256(v, k.lower_bit);
  const __m256i alpha =
      _mm256_and_si256(_mm256_cmpgt_epi8(folded, k.c60), _mm256_cmpgt_epi8(k.c7b, folded));
  const __m256i digit = _mm256_and_si256(_mm256_cmpgt_epi8(v, k.c2f), _mm256_cmpgt_epi8(k.c3a, v));
  const __m256i printable =
      _mm256_and_si256(_mm256_cmpgt_epi8(v, k.c20), _mm256_cmpgt_epi8(k.c7f, v));
  const __m256i pu = _mm256_andnot_si256(_mm256_or_si256(alpha, digit), printable);
  lower = _mm256_or_si256(v, _mm256_and_si256(alpha, k.lower_bit));
  space = static_cast<std::uint32_t>(_mm256_movemask_epi8(s));
  punct = static_cast<std::uint32_t>(_mm256_movemask_epi8(pu));
  slow = static_cast<std::uint32_t>(_mm256_movemask_epi8(ctrl));
}

// The bytes of v whose bit is set in keep (32 bits) written to out[n...] in order, 8 bytes at
// a time (up to 8 bytes past the last written); returns the new n.
__attribute__((target("avx2,popcnt"))) inline size_t squeeze32(__m256i v, std::uint32_t keep,
                                                               char* out, size_t n) {
  const unsigned b0 = keep & 0xFF, b1 = (keep >> 8) & 0xFF, b2 = (keep >> 16) & 0xFF,
                 b3 = keep >> 24;
  constexpr std::uint64_t k8 = 0x0808080808080808ULL;
  const __m256i idx = _mm256_set_epi64x(
      static_cast<long long>(kCompress8[b3] + k8), static_cast<long long>(kCompress8[b2]),
      static_cast<long long>(kCompress8[b1] + k8), static_cast<long long>(kCompress8[b0]));
  const __m256i c = _mm256_shuffle_epi8(v, idx);  // per 128-bit lane
  const __m128i lo = _mm256_castsi256_si128(c), hi = _mm256_extracti128_si256(c, 1);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out + n), lo);
  n += static_cast<size_t>(__builtin_popcount(b0));
  _mm_storeh_pd(reinterpret_cast<double*>(out + n), _mm_castsi128_pd(lo));
  n += static_cast<size_t>(__builtin_popcount(b1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out + n), hi);
  n += static_cast<size_t>(__builtin_popcount(b2));
  _mm_storeh_pd(reinterpret_cast<double*>(out + n), _mm_castsi128_pd(hi));
  return n + static_cast<size_t>(__builtin_popcount(b3));
}

// classify() for AVX2 CPUs: classify32 on both halves of each block.
__attribute__((target("avx2"), no_sanitize_address)) void classify_blocks_avx2(
    const char* d, size_t size, std::uint64_t* space, std::uint64_t* flag, std::uint64_t* slow) {
  alignas(64) char tmp[64];
  const Classes32 k = classes32();
  const size_t n_blocks = (size + 63) / 64;
  for (size_t w = 0; w < n_blocks; ++w) {
    const char* p = block_at(d, size, w, tmp);
    std::uint32_t s0, p0, l0, s1, p1, l1;
    __m256i v0, v1;
    classify32(k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), s0, p0, l0, v0);
    classify32(k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)), s1, p1, l1, v1);
    const std::uint64_t sl = std::uint64_t{l1} << 32 | l0;
    space[w] = std::uint64_t{s1} << 32 | s0;
    flag[w] = (std::uint64_t{p1} << 32 | p0) | sl;
    slow[w] = sl;
  }
}

// The compacted ASCII path for AVX2 in one pass (no mask words stored): each 64-byte block is
// classified, lower-cased and its punctuation squeezed out 8 bytes at a time by a table shuffle;
// the compacted whitespace mask comes from pext where it is fast (kPext), else from classifying
// the compacted text again (pext is slow microcode on Zen 1/2). Returns SIZE_MAX at the first
// block with a byte only the per-chunk paths handle (>= 0x80, a control character), else the
// compacted length. Same contract as compact_ascii_avx512: out needs the text's size rounded
// up to 64 plus 128 bytes, cspace blocks + 2 words.
template <bool kPext>
__attribute__((target("avx2,popcnt,bmi,bmi2"), no_sanitize_address)) size_t compact_ascii_avx2(
    const char* d, size_t size, char* out, std::uint64_t* cspace) {
  alignas(64) char tmp[64];
  const Classes32 k = classes32();
  size_t n = 0;
  cspace[0] = 0;
  const size_t blocks = (size + 63) / 64;
  for (size_t w = 0; w < blocks; ++w) {
    const char* p = block_at(d, size, w, tmp);
    const size_t avail = size - w * 64;
    const std::uint64_t valid = avail >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << avail) - 1;
    std::uint32_t s0, p0, l0, s1, p1, l1;
    __m256i v0, v1;
    classify32(k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), s0, p0, l0, v0);
    classify32(k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)), s1, p1, l1, v1);
    const std::uint64_t sl = (std::uint64_t{l1} << 32 | l0) & valid;
    if (sl) return SIZE_MAX;
    const std::uint64_t keep = ~(std::uint64_t{p1} << 32 | p0) & valid;
    const size_t start = n;
    n = squeeze32(v0, static_cast<std::uint32_t>(keep), out, n);
    n = squeeze32(v1, static_cast<std::uint32_t>(keep >> 32), out, n);
    if constexpr (kPext) {
      const std::uint64_t cs = _pext_u64(std::uint64_t{s1} << 32 | s0, keep);
      const size_t i = start / 64, b = start % 64;
      cspace[i] |= cs << b;
      cspace[i + 1] = b ? cs >> (64 - b) : 0;
    }
  }
  const __m256i zero = _mm256_setzero_si256();
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + n), zero);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + n + 32), zero);
  if constexpr (!kPext) {
    for (size_t i = 0; i <= n / 64; ++i) {  // the last word partly (or wholly) past the end
      std::uint32_t s0, p0, l0, s1, p1, l1;
      __m256i v0, v1;
      classify32(k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out + 64 * i)), s0, p0, l0,
                 v0);
      classify32(k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out + 64 * i + 32)), s1, p1,
                 l1, v1);
      cspace[i] = std::uint64_t{s1} << 32 | s0;
    }
  }
  // Whitespace past the end: the rest of the last word and one more word.
  cspace[n / 64] |= ~std::uint64_t{0} << (n % 64);
  cspace[n / 64 + 1] = ~std::uint64_t{0};
  return n;
}

// Appends the token buf[start, end) of a compacted text to out[m] (its bytes are ASCII, never
// 0, so an article is told by its first word alone); returns the new count.
__attribute__((target("avx2"))) inline size_t put_compact_tok(const char* buf, std::uint32_t start,
                                                              std::uint32_t end, Tok* out,
                                                              size_t m) {
  const std::uint32_t len = end - start;
  const __m128i v = _mm_and_si128(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + start)),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(kFirstBytes + 16 - (len < 16 ? len : 16))));
  Tok& t = out[m];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&t.lo), v);  // lo, hi
  t.data = buf + start;
  t.len = len;
  const auto lo = static_cast<std::uint64_t>(_mm_cvtsi128_si64(v));
  return m + !((lo == 0x61) | (lo == 0x6e61) | (lo == 0x656874));
}

// Tokens of the compacted text in s.buf (whitespace mask s.cspace, s.cwords words ending in
// whitespace): the runs of non-whitespace, but articles, made straight from the mask's edges
// into s.toks until there are at least `want` or the text ends; resumes where the last call
// stopped (s.cword, s.cedges, s.cstart, s.copen). Returns the tokens made so far.
__attribute__((target("avx2,bmi"))) size_t compact_tokens(SideScratch& s, size_t want) {
  const std::uint64_t* cspace = s.cspace.data();
  const char* buf = s.buf.data();
  Tok* out = s.toks.data();
  size_t m = s.n_toks, w = s.cword;
  std::uint64_t edges = s.cedges;  // token starts and ends of word w not yet taken, alternating
  std::uint32_t start = s.cstart;
  bool open = s.copen;  // inside a token that began at `start`
  while (m < want) {
    if (edges == 0) {
      if (++w >= s.cwords) break;
      const std::uint64_t sp = cspace[w];
      edges = sp ^ ((sp << 1) | (w ? cspace[w - 1] >> 63 : 1));  // before the text: whitespace
      continue;
    }
    const std::uint32_t pos = static_cast<std::uint32_t>(w * 64 + _tzcnt_u64(edges));
    edges = _blsr_u64(edges);
    if (open) {
      m = put_compact_tok(buf, start, pos, out, m);
    } else {
      start = pos;
    }
    open = !open;
  }
  s.cword = w;
  s.cedges = edges;
  s.cstart = start;
  s.copen = open;
  s.n_toks = m;
  return m;
}

// compact_tokens() for all tokens of a side not yet started (squad_token_prf): one pass over
// the mask's edges, a token's two edges per step, without the stop test.
__attribute__((target("avx2,bmi"))) size_t compact_tokens_all(SideScratch& s) {
  static_assert(offsetof(Tok, hi) == offsetof(Tok, lo) + 8);
  const std::uint64_t* cspace = s.cspace.data();
  const char* buf = s.buf.data();
  Tok* out = s.toks.data();
  size_t m = 0;
  std::uint32_t start = 0;
  bool open = false;  // a token began at `start` in an earlier word
  std::uint64_t carry = 1;
  for (size_t w = 0; w < s.cwords; ++w) {
    const std::uint64_t sp = cspace[w];
    std::uint64_t edges = sp ^ ((sp << 1) | carry);
    carry = sp >> 63;
    const auto base = static_cast<std::uint32_t>(w * 64);
    if (open) {
      if (!edges) continue;  // the token spans the whole word
      m = put_compact_tok(buf, start, base + static_cast<std::uint32_t>(_tzcnt_u64(edges)), out, m);
      edges = _blsr_u64(edges);
      open = false;
    }
    while (edges) {
      start = base + static_cast<std::uint32_t>(_tzcnt_u64(edges));
      edges = _blsr_u64(edges);
      if (!edges) {  // it ends in a later word
        open = true;
        break;
      }
      m = put_compact_tok(buf, start, base + static_cast<std::uint32_t>(_tzcnt_u64(edges)), out, m);
      edges = _blsr_u64(edges);
    }
  }
  s.cword = s.cwords;
  s.cedges = 0;
  s.n_toks = m;
  return m;
}

// pext at full speed: BMI2, and not an AMD Zen 1/2 (family 0x17), where it is microcoded.
bool have_fast_pext() {
  static const bool ok =
      __builtin_cpu_supports("bmi2") && !__builtin_cpu_is("znver1") && !__builtin_cpu_is("znver2");
  return ok && !detail::squad_no_pext;
}
#endif

// Chunk starts (non-space after space) and ends (space after non-space) from a whitespace mask
// of `words` words; returns the number of chunks.
size_t chunk_bounds(const std::uint64_t* space, size_t words, std::uint32_t* starts,
                    std::uint32_t* ends) {
  size_t n_start = 0, n_end = 0;
  std::uint64_t carry = 1;  // the byte before the text counts as a space
  for (size_t w = 0; w < words; ++w) {
    const std::uint64_t sp = space[w], prev = (sp << 1) | carry;
    carry = sp >> 63;
    std::uint64_t st = ~sp & prev, en = sp & ~prev;
    const auto base = static_cast<std::uint32_t>(w * 64);
    while (st) {
      starts[n_start++] = base + static_cast<std::uint32_t>(__builtin_ctzll(st));
      st &= st - 1;
    }
    while (en) {
      ends[n_end++] = base + static_cast<std::uint32_t>(__builtin_ctzll(en));
      en &= en - 1;
    }
  }
  return n_start;  // == n_end
}

// Class masks of s.text's first `size` bytes (padded with 64 zero bytes), one extra word past the
// end; bits past the end are whitespace.
// d: the text, or (without AVX-512BW or AVX2) its zero-padded copy.
void classify(SideScratch& s, const char* d, size_t size) {
  const size_t words = size / 64 + 2;
  s.space.resize(words);
  s.flag.resize(words);
  s.slow.resize(words);
  const size_t blocks = (size + 63) / 64;  // blocks holding text (the last one padded)
  size_t w = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (have_avx512vbmi() && !detail::squad_no_vbmi_classify) {
    classify_blocks_vbmi(d, size, s.space.data(), s.flag.data(), s.slow.data());
    w = blocks;
  } else if (have_avx512bw()) {
    classify_blocks_avx512(d, size, s.space.data(), s.flag.data(), s.slow.data());
    w = blocks;
  } else if (have_avx2()) {
    classify_blocks_avx2(d, size, s.space.data(), s.flag.data(), s.slow.data());
    w = blocks;
  }
#endif
  for (; w < blocks; ++w) {
    const char* p = d + w * 64;
    std::uint64_t sp = 0, pu = 0, sl = 0;
#if defined(__SSE2__)
    for (int q = 0; q < 4; ++q) {
      std::uint32_t x, y, z;
      classify16(p + q * 16, x, y, z);
      sp |= std::uint64_t{x} << (16 * q);
      pu |= std::uint64_t{y} << (16 * q);
      sl |= std::uint64_t{z} << (16 * q);
    }
#else
    for (size_t i = 0; i < 64; ++i) {
      const std::uint8_t k = kSquadClass[static_cast<unsigned char>(p[i])];
      const std::uint64_t bit = std::uint64_t{1} << i;
      sp |= k == kSpace ? bit : 0;
      pu |= k == kPunct ? bit : 0;
      sl |= (k == kNonAscii || k == kOther) ? bit : 0;
    }
#endif
    s.space[w] = sp;
    s.flag[w] = pu | sl;
    s.slow[w] = sl;
  }
  // Past the end (the padding of the last block, and the words after it): whitespace only.
  for (w = size / 64; w < words; ++w) {
    const size_t begin = w * 64;
    const size_t len = begin < size ? size - begin : 0;
    const std::uint64_t past = ~std::uint64_t{0} << len;  // len < 64 here
    if (begin >= size) s.space[w] = s.flag[w] = s.slow[w] = 0;
    s.space[w] |= past;
    s.flag[w] &= ~past;
    s.slow[w] &= ~past;
  }
}

// The 16 bits of `bits` from position pos on (the masks have a word past every position used).
inline std::uint64_t bits16_at(const std::vector<std::uint64_t>& bits, size_t pos) {
  const size_t w = pos / 64, sh = pos % 64;
  return ((bits[w] >> sh) | ((bits[w + 1] << 1) << (63 - sh))) & 0xFFFF;
}

// Any bit set in [begin, end), end > begin.
inline bool any_bit(const std::vector<std::uint64_t>& bits, size_t begin, size_t end) {
  const size_t wb = begin / 64, we = (end - 1) / 64;
  const std::uint64_t head = ~std::uint64_t{0} << (begin % 64);
  const std::uint64_t tail = ~std::uint64_t{0} >> (63 - (end - 1) % 64);
  if (wb == we) return (bits[wb] & head & tail) != 0;
  if (bits[wb] & head) return true;
  for (size_t w = wb + 1; w < we; ++w)
    if (bits[w]) return true;
  return (bits[we] & tail) != 0;
}

// The tokens of squad_normalize(text).split(), in order, into s.toks[0, s.n_toks); they point
// into s.text or s.buf. Chunks between ASCII whitespace take one of three paths: ASCII letters
// and digits only, at most 16 bytes (read in place and lower-cased as two words, no branch on
// the token), other ASCII (punctuation dropped and letters lower-cased into s.buf), anything
// else (general_chunk, into s.buf). Equality with squad_normalize is tested (squad_fast_test)
// and fuzzed.
// Copies `text` (zero-padded), classifies it and finds its chunks (runs of non-whitespace
// bytes); tokens are then made by advance().
void prepare(std::string_view text, SideScratch& s) {
  const size_t size = text.size();
  s.next_chunk = 0;
  s.buf_used = 0;
  s.n_toks = 0;
  s.compact = false;
  s.edge_tokens = false;
#if defined(__x86_64__) && defined(__GNUC__)
  // AVX2 without AVX-512: the compacted path first, in one pass; a text it cannot take is
  // classified again for the per-chunk paths below.
  if (!have_avx512bw() && have_avx2() && !detail::squad_no_compact) {
    const size_t blocks = (size + 63) / 64;
    if (s.buf.size() < blocks * 64 + 128) s.buf.resize(blocks * 64 + 128);
    if (s.cspace.size() < blocks + 2) s.cspace.resize(blocks + 2);
    const size_t n =
        have_fast_pext()
            ? compact_ascii_avx2<true>(text.data(), size, s.buf.data(), s.cspace.data())
            : compact_ascii_avx2<false>(text.data(), size, s.buf.data(), s.cspace.data());
    if (n != SIZE_MAX) {  // advance() makes the tokens with compact_tokens()
      if (s.toks.size() < n / 2 + 2) s.toks.resize(n / 2 + 2);
      s.cwords = n / 64 + 2;
      s.cword = SIZE_MAX;  // before word 0
      s.cedges = 0;
      s.copen = false;
      s.chunks = 0;
      s.edge_tokens = true;
      return;
    }
  }
#endif
  // The per-chunk paths read 16 bytes from any chunk start: they work on a zero-padded copy.
  // With AVX-512 or AVX2 the text is classified (and compacted) in place, and copied only when
  // a per-chunk path needs it.
  bool copied = false;
  auto copy = [&] {
    if (s.text.size() < size + 64) s.text.resize(size + 64);
    std::memcpy(s.text.data(), text.data(), size);
    std::memset(s.text.data() + size, 0, 64);
    copied = true;
  };
#if defined(__x86_64__) && defined(__GNUC__)
  if (!have_avx512bw() && !have_avx2()) copy();
#else
  copy();
#endif
  classify(s, copied ? s.text.data() : text.data(), size);
  // Chunk starts (non-space after space) and ends (space after non-space).
  const size_t max_chunks = size / 2 + 2;
  if (s.starts.size() < max_chunks + 64) {
    s.starts.resize(max_chunks + 64);
    s.ends.resize(max_chunks + 64);
  }
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool have_bmi2 = __builtin_cpu_supports("bmi2");  // pext (a VM may hide it)
  if (have_avx512vbmi2() && have_bmi2 && !detail::squad_no_compact) {
    const size_t blocks = (size + 63) / 64;
    std::uint64_t any_slow = 0;
    for (size_t w = 0; w < blocks; ++w) any_slow |= s.slow[w];
    if (any_slow == 0) {
      if (s.buf.size() < blocks * 64 + 128) s.buf.resize(blocks * 64 + 128);
      if (s.cspace.size() < blocks + 2) s.cspace.resize(blocks + 2);
      const size_t n = compact_ascii_avx512(text.data(), size, s.space.data(), s.flag.data(),
                                            s.buf.data(), s.cspace.data());
      s.chunks = chunk_bounds_avx512(s.cspace.data(), n / 64 + 2, s.starts.data(), s.ends.data());
      if (s.toks.size() < s.chunks + 1) s.toks.resize(s.chunks + 1);
      s.compact = true;
      return;
    }
  }
#endif
  if (!copied) copy();
#if defined(__x86_64__) && defined(__GNUC__)
  if (have_avx512vbmi2()) {
    s.chunks = chunk_bounds_avx512(s.space.data(), s.space.size(), s.starts.data(), s.ends.data());
  } else
#endif
  {
    s.chunks = chunk_bounds(s.space.data(), s.space.size(), s.starts.data(), s.ends.data());
  }
  if (s.toks.size() < s.chunks + 1) s.toks.resize(s.chunks + 1);
  const size_t need = 3 * size + 64;  // general_chunk's bound, and 16 readable bytes
  if (s.buf.size() < need) s.buf.resize(need);
}

// Makes the tokens of squad_normalize(text).split() into s.toks, in order, from the next chunks
// until there are at least `want` or the chunks run out; returns how many there are. They
// point into s.text or s.buf. A chunk takes one of three paths: ASCII letters and digits only,
// at most 16 bytes (read in place and lower-cased as two words, no branch on the token), other
// ASCII (punctuation dropped and letters lower-cased into s.buf), anything else (general_chunk,
// into s.buf). Equality with squad_normalize is tested (squad_fast_test) and fuzzed.
size_t advance(SideScratch& s, size_t want) {
  const size_t chunks = s.chunks;
  char* w = s.buf.data();
  size_t n = s.buf_used;
  const char* d = s.text.data();
  Tok* out = s.toks.data();
  size_t m = s.n_toks;
  size_t k = s.next_chunk;
#if defined(__x86_64__) && defined(__GNUC__)
  if (s.edge_tokens)
    return want == SIZE_MAX && s.cword == SIZE_MAX ? compact_tokens_all(s)
                                                   : compact_tokens(s, want);
#endif
  if (s.compact) {  // every chunk is a token, lower-cased and without punctuation, in buf
    const std::uint32_t* starts = s.starts.data();
    const std::uint32_t* ends = s.ends.data();
    for (; k < chunks && m < want; ++k) {
      out[m] = make_tok(w + starts[k], ends[k] - starts[k], false);
      m += !out[m].is_article();
    }
    s.next_chunk = k;
    s.n_toks = m;
    return m;
  }
  for (; k < chunks && m < want; ++k) {
    const size_t pos = s.starts[k], end = s.ends[k], len = end - pos;
    if (len <= 16 && (bits16_at(s.flag, pos) & ((std::uint64_t{1} << len) - 1)) == 0) {
      out[m] = make_tok(d + pos, len, true);
      m += !out[m].is_article();
      continue;
    }
    if (any_bit(s.slow, pos, end)) {
      general_chunk(std::string_view(d + pos, len), s.lowered, w, n, [&](std::string_view t) {
        if (m + (chunks - k) >= s.toks.size()) {
          s.toks.resize(2 * s.toks.size() + 16);
          out = s.toks.data();
        }
        out[m++] = make_tok(t.data(), t.size(), false);
        return true;
      });
      continue;
    }
    const size_t start = n;
    for (size_t i = pos; i < end; ++i) {
      auto c = static_cast<unsigned char>(d[i]);
      w[n] = kLower[c];
      n += kKeep[c];
    }
    if (n == start) continue;  // only punctuation
    out[m] = make_tok(w + start, n - start, false);
    m += !out[m].is_article();
  }
  s.next_chunk = k;
  s.buf_used = n;
  s.n_toks = m;
  return m;
}

void tokenize(std::string_view text, SideScratch& s) {
  prepare(text, s);
  advance(s, SIZE_MAX);
}

// Multiset of tokens for the token overlap (exact comparison; the hash only picks slots).
// Generation stamps make reset() O(1); add() and take() have no branch but the probe loop.
class TokenCounter {
 public:
  // Empties the table and sizes it for `expected` add() calls.
  void reset(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 4) cap *= 2;  // load <= 1/4: most probes end at the first slot
    if (cap > slots_.size()) {
      slots_.assign(cap, Slot{});
      stamp_ = 0;
    }
    mask_ = cap - 1;
    if (++stamp_ == 0) {
      for (Slot& s : slots_) s.stamp = 0;
      stamp_ = 1;
    }
  }
  void add(const Tok& tok) {
    Slot& s = slots_[find(tok)];
    const std::int32_t count = s.stamp == stamp_ ? s.count : 0;
    s.tok = tok;
    s.stamp = stamp_;
    s.count = count + 1;
  }
  // 1 (and one occurrence consumed) when `tok` is still available, else 0.
  int take(const Tok& tok) {
    Slot& s = slots_[find(tok)];
    const int avail = (s.stamp == stamp_) & (s.count > 0);
    s.count -= avail;
    return avail;
  }

 private:
  struct Slot {
    Tok tok{};
    std::uint32_t stamp = 0;
    std::int32_t count = 0;
  };
  static size_t hash(const Tok& t) {
    const unsigned __int128 r =
        static_cast<unsigned __int128>(t.lo ^ 0xe7037ed1a0b428dbULL ^ t.len) *
        (t.hi ^ 0xa0761d6478bd642fULL);
    return static_cast<size_t>(static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64));
  }
  size_t find(const Tok& tok) const {
    size_t slot = hash(tok) & mask_;
    for (;; slot = (slot + 1) & mask_) {
      const Slot& e = slots_[slot];
      if ((e.stamp != stamp_) | (e.tok == tok)) return slot;  // one branch, rarely taken twice
    }
  }
  std::vector<Slot> slots_;
  std::uint32_t stamp_ = 0;
  size_t mask_ = 15;
};

#if defined(__x86_64__) && defined(__GNUC__)
// Multiset overlap when one side has at most 64 tokens (AVX-512): that side's tokens become two
// exact 64-bit keys each (the first 8 bytes; bytes 8-14 and the length in the top byte, which
// is zero in the token's bytes when it has at most 15), and a 64-bit mask marks which are still
// unmatched; each token of the other side compares its keys against all of them (8 per
// instruction) and takes the first unmatched equal one. No hash, no branch on hit or miss. A
// token of 16 bytes or more has key 0xFF.. | length, so equal keys only make it a candidate:
// it is compared in full (rare).
struct SmallKeys {
  alignas(64) std::uint64_t lo[64];
  alignas(64) std::uint64_t k2[64];
};

inline std::uint64_t key2(const Tok& t) {
  return t.len <= 15 ? t.hi | (std::uint64_t{t.len} << 56)
                     : (std::uint64_t{0xFF} << 56) | std::uint64_t{t.len};
}

// The small side's keys, zero-padded to whole vectors of `lanes`; returns the vector count.
inline size_t fill_keys(const Tok* a, size_t na, size_t lanes, SmallKeys& keys) {
  const size_t nv = (na + lanes - 1) / lanes;
  for (size_t j = 0; j < na; ++j) {
    keys.lo[j] = a[j].lo;
    keys.k2[j] = key2(a[j]);
  }
  for (size_t j = na; j < nv * lanes; ++j) keys.lo[j] = keys.k2[j] = 0;  // a real key2 is never 0
  return nv;
}

// Of the small side's tokens whose keys equal t's (cand) and still unmatched, takes the first
// (clears it in avail); returns 1 when there was one.
inline int take_first(std::uint64_t cand, const Tok* a, const Tok& t, std::uint64_t& avail) {
  if (t.len > 15) {  // rare: equal keys only make a candidate
    while (cand && !(a[__builtin_ctzll(cand)] == t)) cand &= cand - 1;
  }
  const std::uint64_t first = cand & (0 - cand);
  avail ^= first;
  return first != 0;
}

__attribute__((target("avx512f,avx512bw"))) long small_overlap_avx512(const Tok* a, size_t na,
                                                                      const Tok* b, size_t nb,
                                                                      SmallKeys& keys) {
  const size_t nv = fill_keys(a, na, 8, keys);
  std::uint64_t avail = na >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << na) - 1;
  long same = 0;
  for (size_t i = 0; i < nb; ++i) {
    const Tok& t = b[i];
    const __m512i lo = _mm512_set1_epi64(static_cast<long long>(t.lo));
    const __m512i k2 = _mm512_set1_epi64(static_cast<long long>(key2(t)));
    std::uint64_t match = 0;
    for (size_t v = 0; v < nv; ++v) {
      const std::uint64_t m = _mm512_cmpeq_epi64_mask(_mm512_load_si512(keys.lo + 8 * v), lo) &
                              _mm512_cmpeq_epi64_mask(_mm512_load_si512(keys.k2 + 8 * v), k2);
      match |= m << (8 * v);
    }
    same += take_first(match & avail, a, t, avail);
  }
  return same;
}

// small_overlap_avx512 with AVX2: 4 key pairs a compare, for a small side of at most 64 tokens
// (thresholds of 16 and 32 measured the same).
__attribute__((target("avx2,bmi"))) long small_overlap_avx2(const Tok* a, size_t na, const Tok* b,
                                                            size_t nb, SmallKeys& keys) {
  const size_t nv = fill_keys(a, na, 4, keys);
  std::uint64_t avail = na >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << na) - 1;
  long same = 0;
  for (size_t i = 0; i < nb; ++i) {
    const Tok& t = b[i];
    const __m256i lo = _mm256_set1_epi64x(static_cast<long long>(t.lo));
    const __m256i k2 = _mm256_set1_epi64x(static_cast<long long>(key2(t)));
    std::uint64_t match = 0;
    for (size_t v = 0; v < nv; ++v) {
      const __m256i eq = _mm256_and_si256(
          _mm256_cmpeq_epi64(_mm256_load_si256(reinterpret_cast<const __m256i*>(keys.lo + 4 * v)),
                             lo),
          _mm256_cmpeq_epi64(_mm256_load_si256(reinterpret_cast<const __m256i*>(keys.k2 + 4 * v)),
                             k2));
      match |= static_cast<std::uint64_t>(_mm256_movemask_pd(_mm256_castsi256_pd(eq))) << (4 * v);
    }
    same += take_first(match & avail, a, t, avail);
  }
  return same;
}
#endif

struct SquadScratch {
  SideScratch a, b;
  TokenCounter counter;
#if defined(__x86_64__) && defined(__GNUC__)
  SmallKeys keys;
#endif
};

}  // namespace

double squad_exact_match(std::string_view prediction, std::string_view reference) {
  thread_local SquadScratch s;
  prepare(prediction, s.a);
  prepare(reference, s.b);
  // Tokens are made on both sides in growing batches and compared: most pairs differ early.
  size_t t = 0;
  for (size_t want = 4;; want *= 2) {
    const size_t na = advance(s.a, want), nb = advance(s.b, want);
    for (const size_t upto = std::min(na, nb); t < upto; ++t)
      if (!(s.a.toks[t] == s.b.toks[t])) return 0.0;
    if (na < want || nb < want) return na == nb ? 1.0 : 0.0;  // a side ran out of chunks
  }
}

double quasi_exact_match(std::string_view prediction, std::string_view reference) {
  return squad_normalize(py_strip(prediction)) == squad_normalize(py_strip(reference)) ? 1.0 : 0.0;
}

namespace {

// Multiset intersection size through the hash table: the prediction's tokens counted, the
// reference's taken.
long counted_overlap(SquadScratch& s) {
  s.counter.reset(s.a.n_toks);
  for (size_t k = 0; k < s.a.n_toks; ++k) s.counter.add(s.a.toks[k]);
  long same = 0;
  for (size_t k = 0; k < s.b.n_toks; ++k) same += s.counter.take(s.b.toks[k]);
  return same;
}

}  // namespace

TokenPrf squad_token_prf(std::string_view prediction, std::string_view reference) {
  thread_local SquadScratch s;
  tokenize(prediction, s.a);
  tokenize(reference, s.b);
  long same = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if ((have_avx512bw() || have_avx2()) && !detail::squad_no_small_overlap &&
      std::min(s.a.n_toks, s.b.n_toks) <= 64) {
    // The overlap is symmetric: the smaller side gets the keys.
    const bool a_small = s.a.n_toks <= s.b.n_toks;
    const SideScratch& x = a_small ? s.a : s.b;
    const SideScratch& y = a_small ? s.b : s.a;
    same = have_avx512bw()
               ? small_overlap_avx512(x.toks.data(), x.n_toks, y.toks.data(), y.n_toks, s.keys)
               : small_overlap_avx2(x.toks.data(), x.n_toks, y.toks.data(), y.n_toks, s.keys);
  } else
#endif
  {
    same = counted_overlap(s);
  }
  TokenPrf out;
  if (same == 0) return out;
  out.precision = 1.0 * same / static_cast<double>(s.a.n_toks);
  out.recall = 1.0 * same / static_cast<double>(s.b.n_toks);
  out.f1 = (2 * out.precision * out.recall) / (out.precision + out.recall);
  return out;
}

}  // namespace assay::scoring
