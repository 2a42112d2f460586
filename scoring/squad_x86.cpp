// The AVX2 paths of the one-pass SQuAD tokenizer (squad_scan.h): the text classified 64 bytes
// at a time; ASCII text with no control byte compacted in one pass (lower-cased, punctuation
// squeezed out 8 bytes at a time by a table shuffle, tokens made straight from the edges of the
// compacted whitespace mask); and the token overlap of a side of at most 64 tokens by exact key
// compares. Each is checked against the step-by-step form (squad_fast_test, with
// testing::ScopedCpuLevel for the portable paths) and fuzzed. AVX-512 paths (VBMI byte permute,
// VBMI2 compress) were measured against these on Zen 4 and dropped: F1 1.04x, EM 1.12x for
// ~200 more lines (bench/RESULTS.md); so were the pext variants (1.00x).
#include "scoring/squad_scan.h"

#include "core/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <array>
#include <cstddef>

namespace assay::scoring::squad {

namespace {

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

// SquadIsa::classify_blocks: classify32 on both halves of each block.
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

// The compacted ASCII path in one pass (SquadIsa::compact_ascii): each 64-byte block is
// classified, lower-cased and its punctuation squeezed out 8 bytes at a time by a table
// shuffle; the compacted whitespace mask then comes from classifying the compacted text again
// (as fast as pext on Zen 4, which Zen 1/2 microcode). Returns SIZE_MAX at the first block with
// a byte only the per-chunk paths handle (>= 0x80, a control character).
__attribute__((target("avx2,popcnt,bmi"), no_sanitize_address)) size_t compact_ascii_avx2(
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
    n = squeeze32(v0, static_cast<std::uint32_t>(keep), out, n);
    n = squeeze32(v1, static_cast<std::uint32_t>(keep >> 32), out, n);
  }
  const __m256i zero = _mm256_setzero_si256();
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + n), zero);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + n + 32), zero);
  for (size_t i = 0; i <= n / 64; ++i) {  // the last word partly (or wholly) past the end
    std::uint32_t s0, p0, l0, s1, p1, l1;
    __m256i v0, v1;
    classify32(k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out + 64 * i)), s0, p0, l0,
               v0);
    classify32(k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out + 64 * i + 32)), s1, p1,
               l1, v1);
    cspace[i] = std::uint64_t{s1} << 32 | s0;
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

// Multiset overlap when one side has at most 64 tokens (SquadIsa::small_overlap): that side's
// tokens become two exact 64-bit keys each (the first 8 bytes; bytes 8-14 and the length in the
// top byte, which is zero in the token's bytes when it has at most 15), and a 64-bit mask marks
// which are still unmatched; each token of the other side compares its keys against all of
// them (4 per instruction) and takes the first unmatched equal one. No hash, no branch on hit or
// miss. A token of 16 bytes or more has key 0xFF.. | length, so equal keys only make it a
// candidate: it is compared in full (rare).
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

// SquadIsa::compact_tokens: all at once from the start, else step by step.
size_t compact_tokens_avx2(SideScratch& s, size_t want) {
  return want == SIZE_MAX && s.cword == SIZE_MAX ? compact_tokens_all(s) : compact_tokens(s, want);
}

constexpr SquadIsa kAvx2 = {classify_blocks_avx2, compact_ascii_avx2, compact_tokens_avx2,
                            small_overlap_avx2};

}  // namespace

const SquadIsa* avx2_paths() {
  return cpu::features().avx2 ? &kAvx2 : nullptr;
}

}  // namespace assay::scoring::squad

#else  // not x86-64

namespace assay::scoring::squad {
const SquadIsa* avx2_paths() {
  return nullptr;
}
}  // namespace assay::scoring::squad

#endif
