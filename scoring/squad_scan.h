// Internal to scoring/ (squad.cpp, squad_x86.cpp and squad_fast_test): the one-pass SQuAD
// tokenizer behind squad_exact_match / squad_token_prf. A side's text is scanned into tokens
// equal to squad_tokens(text) but made without building the normalised string; the vector
// paths for it sit behind one table (SquadIsa), chosen per call from cpu::level().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace assay::scoring::squad {

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

// 16 bytes 0xFF then 16 bytes 0: loaded from 16 - len, the mask of the first len bytes.
alignas(32) inline constexpr std::uint8_t kFirstBytes[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

// One side's scratch: the text copied with zero padding (so that 16 bytes can be read from any
// token start), its class masks, chunk boundaries, and the tokens.
struct SquadIsa;
struct SideScratch {
  const SquadIsa* isa = nullptr;  // the paths prepare() was given (null: portable)
  std::string text;
  std::vector<std::uint64_t> space, flag, slow;  // flag = punctuation or slow
  std::vector<std::uint32_t> starts, ends;
  std::string buf, lowered;
  std::vector<Tok> toks;
  size_t chunks = 0;      // chunks found by prepare()
  size_t next_chunk = 0;  // first chunk advance() has not tokenised
  size_t buf_used = 0;    // bytes of buf holding tokens
  size_t n_toks = 0;      // tokens made
  // The compacted path (SquadIsa::compact_ascii took the text): tokens are the runs of
  // non-whitespace of buf (whitespace mask cspace, cwords words), made by compact_tokens, which
  // resumes at word cword with edges cedges left, inside a token from cstart when copen.
  bool edge_tokens = false;
  std::vector<std::uint64_t> cspace;
  size_t cwords = 0, cword = 0;
  std::uint64_t cedges = 0;
  std::uint32_t cstart = 0;
  bool copen = false;
};

// The small side's tokens as two exact 64-bit keys each, for SquadIsa::small_overlap.
struct SmallKeys {
  alignas(64) std::uint64_t lo[64];
  alignas(64) std::uint64_t k2[64];
};

// The vector paths of one instruction-set level. A null entry means the portable code.
struct SquadIsa {
  // Class masks of the 64-byte blocks of d[0, size) (bit per byte: ASCII whitespace; ASCII
  // punctuation or slow; slow = >= 0x80 or an ASCII control character), reading d in place
  // (no padding needed); bits past the end are the caller's to fix.
  void (*classify_blocks)(const char* d, size_t size, std::uint64_t* space, std::uint64_t* flag,
                          std::uint64_t* slow);
  // The compacted ASCII path: the text lower-cased with its punctuation squeezed out into out
  // (the text's size rounded up to 64, plus 128 bytes) and its whitespace mask into cspace
  // (blocks + 2 words, whitespace past the end); SIZE_MAX when the text has a byte >= 0x80 or
  // a control character (then the per-chunk paths take it).
  size_t (*compact_ascii)(const char* d, size_t size, char* out, std::uint64_t* cspace);
  // Tokens of a compacted side into s.toks until there are `want` (SIZE_MAX: all); resumes.
  size_t (*compact_tokens)(SideScratch& s, size_t want);
  // Multiset overlap of a (na <= 64 tokens) and b.
  long (*small_overlap)(const Tok* a, size_t na, const Tok* b, size_t nb, SmallKeys& keys);
};

// squad_x86.cpp: the AVX2 table, or null where the CPU (or a test's cap) has no AVX2.
const SquadIsa* avx2_paths();

// The paths for this call: the highest level cpu::level() allows (null: portable).
const SquadIsa* paths();

// Copies `text` (zero-padded) where a per-chunk path needs it, classifies it and finds its
// chunks (runs of non-whitespace bytes), or compacts it; tokens are then made by advance().
void prepare(std::string_view text, SideScratch& s, const SquadIsa* isa);

// Makes the tokens of squad_normalize(text).split() into s.toks, in order, until there are at
// least `want` (SIZE_MAX: all) or the text runs out; returns how many there are (s.n_toks).
size_t advance(SideScratch& s, size_t want);

// prepare() and advance(s, SIZE_MAX).
void tokenize(std::string_view text, SideScratch& s, const SquadIsa* isa);

// utf8::py_lower(chunk) into out without allocating, for text whose non-ASCII code points are
// all Latin-1 capitals U+00C0-U+00DE (but U+00D7) or in ranges whose lower case is themselves;
// false (out unspecified) for anything else, which then takes py_lower.
bool lower_simple(std::string_view chunk, std::string& out);

}  // namespace assay::scoring::squad
