// SQuAD v1.1's answer metrics: the reference semantics (py_strip, squad_normalize, squad_tokens,
// written step by step after evaluate-v1.1.py; they are the specification) and the per-pair
// metrics, which tokenize in one pass (squad_scan.h) and are tested equal to the step-by-step
// form on every path.
#include "scoring/squad.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/utf8.h"
#include "scoring/squad_scan.h"
#include "scoring/text.h"

namespace assay::scoring {

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

using squad::SideScratch;
using squad::Tok;

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

struct SquadScratch {
  SideScratch a, b;
  TokenCounter counter;
  squad::SmallKeys keys;
};

// The calling thread's scratch (buffers kept from pair to pair) with both sides prepared, and
// with all their tokens made when `all`; the paths for this call in s.a.isa.
SquadScratch& sides(std::string_view prediction, std::string_view reference, bool all) {
  thread_local SquadScratch s;
  const squad::SquadIsa* isa = squad::paths();
  auto start = all ? squad::tokenize : squad::prepare;
  start(prediction, s.a, isa);
  start(reference, s.b, isa);
  return s;
}

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

double squad_exact_match(std::string_view prediction, std::string_view reference) {
  SquadScratch& s = sides(prediction, reference, false);
  // Tokens are made on both sides in growing batches and compared: most pairs differ early.
  size_t t = 0;
  for (size_t want = 4;; want *= 2) {
    const size_t na = squad::advance(s.a, want), nb = squad::advance(s.b, want);
    for (const size_t upto = std::min(na, nb); t < upto; ++t)
      if (!(s.a.toks[t] == s.b.toks[t])) return 0.0;
    if (na < want || nb < want) return na == nb ? 1.0 : 0.0;  // a side ran out of chunks
  }
}

double quasi_exact_match(std::string_view prediction, std::string_view reference) {
  return squad_normalize(py_strip(prediction)) == squad_normalize(py_strip(reference)) ? 1.0 : 0.0;
}

TokenPrf squad_token_prf(std::string_view prediction, std::string_view reference) {
  SquadScratch& s = sides(prediction, reference, true);
  const squad::SquadIsa* isa = s.a.isa;
  long same = 0;
  if (isa != nullptr && std::min(s.a.n_toks, s.b.n_toks) <= 64) {
    // The overlap is symmetric: the smaller side gets the keys.
    const bool a_small = s.a.n_toks <= s.b.n_toks;
    const SideScratch& x = a_small ? s.a : s.b;
    const SideScratch& y = a_small ? s.b : s.a;
    same = isa->small_overlap(x.toks.data(), x.n_toks, y.toks.data(), y.n_toks, s.keys);
  } else {
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
