// The one-pass SQuAD tokenizer (squad_scan.h) in portable C++: chunks between ASCII whitespace
// found from per-byte class masks, each made into tokens by the cheapest path that is exact
// for it, the vector paths taken from the SquadIsa table where the CPU has them.
#include "scoring/squad_scan.h"

#include <array>

#include "core/cpu.h"
#include "core/utf8.h"
#include "scoring/text.h"

namespace assay::scoring::squad {

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

bool lower_simple(std::string_view chunk, std::string& out) {
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
  if (!lower_simple(chunk, lowered)) lowered = utf8::py_lower(chunk);
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

// Tok of len bytes at p, 16 bytes of which are readable; lower-cases them when `lower` (bytes
// < 0x80 only).
inline Tok make_tok(const char* p, size_t len, bool lower) {
  Tok t;
  t.lo = load8(p) & byte_mask(len);
  t.hi = load8(p + 8) & byte_mask(len > 8 ? len - 8 : 0);
  if (lower) {
    t.lo = lower8(t.lo);
    t.hi = lower8(t.hi);
  }
  t.data = p;
  t.len = static_cast<std::uint32_t>(len);
  return t;
}

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
  if (s.isa != nullptr) {
    s.isa->classify_blocks(d, size, s.space.data(), s.flag.data(), s.slow.data());
  } else {
    for (size_t w = 0; w < blocks; ++w) {
      const char* p = d + w * 64;
      std::uint64_t sp = 0, pu = 0, sl = 0;
      for (size_t i = 0; i < 64; ++i) {
        const std::uint8_t k = kSquadClass[static_cast<unsigned char>(p[i])];
        const std::uint64_t bit = std::uint64_t{1} << i;
        sp |= k == kSpace ? bit : 0;
        pu |= k == kPunct ? bit : 0;
        sl |= (k == kNonAscii || k == kOther) ? bit : 0;
      }
      s.space[w] = sp;
      s.flag[w] = pu | sl;
      s.slow[w] = sl;
    }
  }
  // Past the end (the padding of the last block, and the words after it): whitespace only.
  for (size_t w = size / 64; w < words; ++w) {
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

}  // namespace

void prepare(std::string_view text, SideScratch& s, const SquadIsa* isa) {
  const size_t size = text.size();
  s.isa = isa;
  s.next_chunk = 0;
  s.buf_used = 0;
  s.n_toks = 0;
  s.edge_tokens = false;
  if (isa != nullptr) {
    // The compacted path first, in one pass; a text it cannot take is classified again for the
    // per-chunk paths below.
    const size_t blocks = (size + 63) / 64;
    if (s.buf.size() < blocks * 64 + 128) s.buf.resize(blocks * 64 + 128);
    if (s.cspace.size() < blocks + 2) s.cspace.resize(blocks + 2);
    const size_t n = isa->compact_ascii(text.data(), size, s.buf.data(), s.cspace.data());
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
  // The per-chunk paths read 16 bytes from any chunk start: they work on a zero-padded copy.
  // The vector paths classify the text in place, the portable loop reads the copy.
  if (s.text.size() < size + 64) s.text.resize(size + 64);
  std::memcpy(s.text.data(), text.data(), size);
  std::memset(s.text.data() + size, 0, 64);
  classify(s, isa != nullptr ? text.data() : s.text.data(), size);
  // Chunk starts (non-space after space) and ends (space after non-space).
  const size_t max_chunks = size / 2 + 2;
  if (s.starts.size() < max_chunks + 64) {
    s.starts.resize(max_chunks + 64);
    s.ends.resize(max_chunks + 64);
  }
  s.chunks = chunk_bounds(s.space.data(), s.space.size(), s.starts.data(), s.ends.data());
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
  if (s.edge_tokens) return s.isa->compact_tokens(s, want);
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

void tokenize(std::string_view text, SideScratch& s, const SquadIsa* isa) {
  prepare(text, s, isa);
  advance(s, SIZE_MAX);
}

const SquadIsa* paths() {
  return avx2_paths();
}

}  // namespace assay::scoring::squad
