// Text plumbing shared by the metrics: UTF-8 sanitising (invalid bytes become U+FFFD, the
// project-wide rule for bad input), Python's str.split() on Unicode whitespace, and exact token
// interning and n-gram counting tables used on the hot paths (no hashing shortcuts: equal keys
// only, so counts are exact).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace assay::scoring {

// Python's string.punctuation (the ASCII punctuation SQuAD strips and chrF++ splits off).
constexpr bool is_ascii_punct(char32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

// Returns `text` itself when it is well-formed UTF-8, else a sanitised copy written to
// `storage` in which every invalid or truncated byte is replaced by U+FFFD (the behaviour of
// core/utf8.h decode). The view stays valid while `text` and `storage` live.
std::string_view valid_utf8(std::string_view text, std::string& storage);

// Python's str.isspace() over a whole code point starting at s[pos]; sets `len` to its byte
// length. `s` must be valid UTF-8.
bool py_space_at(std::string_view s, size_t pos, size_t& len);

// Python's str.split() with no argument: appends the pieces of `text` between runs of Unicode
// whitespace to `out` (views into `text`). `text` must be valid UTF-8.
void py_split(std::string_view text, std::vector<std::string_view>& out);

// Number of code points in valid UTF-8 `text`.
size_t count_code_points(std::string_view text);

// Interns strings to dense ids 0, 1, 2, ... (exact comparison). The views must outlive the
// interner's use; clear() keeps the capacity for the next pair.
class Interner {
 public:
  // Id of `token`, assigning the next free id when it is new.
  std::uint32_t id(std::string_view token);
  // Number of distinct strings seen since the last clear().
  std::uint32_t size() const { return static_cast<std::uint32_t>(keys_.size()); }
  // Forgets every string; `expected` (a hint: how many id() calls follow) sizes the table, so a
  // small pair uses a small, cache-resident prefix whatever came before. Costs O(strings held).
  void clear(size_t expected = 0);

 private:
  void grow();
  std::vector<std::string_view> keys_;
  std::vector<std::uint64_t> hashes_;
  std::vector<std::uint32_t> slots_;  // index+1 into keys_, 0 = empty; prefix [0, mask_] in use
  std::vector<std::uint32_t> used_;   // slots holding a key
  std::uint64_t mask_ = 0;
};

// `text` copied into `buf` followed by 16 zero bytes; the view (valid while `buf` is unchanged)
// excludes them, so 16 bytes can be read from any position of it (PaddedInterner).
inline std::string_view padded_copy(std::string_view text, std::string& buf) {
  if (buf.size() < text.size() + 16) buf.resize(text.size() + 16);
  std::memcpy(buf.data(), text.data(), text.size());
  std::memset(buf.data() + text.size(), 0, 16);
  return std::string_view(buf).substr(0, text.size());
}

// Interns strings that have 16 readable bytes from their start (views into zero-padded copies)
// to dense ids 0, 1, 2, ...: the first 16 bytes are compared as two masked words, only longer
// strings compare the rest with memcmp. clear() is O(1) (generation stamps) and sizes the table
// for the number of id() calls that follow, so the table never grows within a pair.
class PaddedInterner {
 public:
  // Forgets every string; at most `calls` id() calls may follow.
  void clear(size_t calls) {
    size_t cap = 16;
    while (cap < calls * 2) cap *= 2;
    if (cap > slots_.size()) {
      slots_.assign(cap, Slot{});
      stamp_ = 0;
    }
    mask_ = cap - 1;
    size_ = 0;
    if (++stamp_ == 0) {
      for (Slot& s : slots_) s.stamp = 0;
      stamp_ = 1;
    }
  }
  // Id of `s` (16 bytes readable from s.data()), assigning the next free id when it is new.
  std::uint32_t id(std::string_view s) {
    std::uint64_t lo, hi;
    std::memcpy(&lo, s.data(), 8);
    std::memcpy(&hi, s.data() + 8, 8);
    const size_t len = s.size();
    lo &= len >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * len)) - 1;
    hi &= len >= 16 ? ~std::uint64_t{0} : len <= 8 ? 0 : (std::uint64_t{1} << (8 * (len - 8))) - 1;
    const unsigned __int128 r = static_cast<unsigned __int128>(lo ^ 0xe7037ed1a0b428dbULL ^ len) *
                                (hi ^ 0xa0761d6478bd642fULL);
    size_t slot =
        static_cast<size_t>(static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64)) &
        mask_;
    for (;; slot = (slot + 1) & mask_) {
      Slot& e = slots_[slot];
      if (e.stamp != stamp_) {
        e = Slot{lo, hi, s.data(), static_cast<std::uint32_t>(len), stamp_, size_};
        return size_++;
      }
      if (e.lo == lo && e.hi == hi && e.len == len &&
          (len <= 16 || std::memcmp(e.data + 16, s.data() + 16, len - 16) == 0))
        return e.id;
    }
  }
  // Number of distinct strings seen since the last clear().
  std::uint32_t size() const { return size_; }

 private:
  struct Slot {
    std::uint64_t lo = 0, hi = 0;
    const char* data = nullptr;
    std::uint32_t len = 0, stamp = 0, id = 0;
  };
  std::vector<Slot> slots_;
  std::uint32_t stamp_ = 0, size_ = 0;
  size_t mask_ = 15;
};

// Clipped n-gram matches of orders 1..max_order without hashing, for symbol sequences whose
// symbols are dense ids 1..n_symbols (0 in the hypothesis: a symbol the reference lacks). Order
// by order, the n-gram starting at each position gets an id from a direct-indexed table keyed by
// (id of its (n-1)-gram prefix, its last symbol): 1 + the position of its first appearance in
// the reference (not a running count, so the reference loop has no loop-carried dependency
// through the table loads); a hypothesis n-gram the reference lacks gets id 0 (row 0 of the
// table is never written), so the hypothesis side has no branch: one load for the id, one
// compare-and-decrement of its count. The table has at most (reference length + 1) *
// (n_symbols + 1) entries, all zero between calls.
class PrefixNgramMatcher {
 public:
  // Largest table (entries) count() builds; larger pairs return false.
  static constexpr size_t kMaxTable = size_t{1} << 21;
  // True when (ref_len + 1) * (n_symbols + 1) fits kMaxTable (count() will succeed).
  static bool fits(size_t ref_len, size_t n_symbols) {
    return (ref_len + 1) * (n_symbols + 1) <= kMaxTable;
  }
  // Interned ids (the reference's first, ids < n_ref_ids) to the symbols count() takes:
  // reference ids + 1, and 0 for a hypothesis id the reference lacks.
  static void to_symbols(std::vector<std::uint32_t>& ref_ids, std::vector<std::uint32_t>& hyp_ids,
                         std::uint32_t n_ref_ids) {
    for (std::uint32_t& id : ref_ids) ++id;
    for (std::uint32_t& id : hyp_ids) id = id < n_ref_ids ? id + 1 : 0;
  }
  // matched[n-1] = sum over distinct n-grams of min(count in hyp, count in ref), n = 1..max_order.
  // Requires fits(nr, n_symbols).
  template <typename Sym>
  void count(const Sym* ref, size_t nr, const Sym* hyp, size_t nh, size_t n_symbols, int max_order,
             std::int64_t* matched) {
    for (int n = 0; n < max_order; ++n) matched[n] = 0;
    const size_t stride = n_symbols + 1;
    if (ref_prev_.size() < nr + 1) {
      ref_prev_.resize(nr + 1);
      ref_cur_.resize(nr + 1);
    }
    if (hyp_prev_.size() < nh + 1) {
      hyp_prev_.resize(nh + 1);
      hyp_cur_.resize(nh + 1);
    }
    if (counts_.size() < std::max(nr, n_symbols) + 1) {
      counts_.resize(std::max(nr, n_symbols) + 1, 0);
      key_of_.resize(counts_.size());
    }
    std::uint32_t* key_of = key_of_.data();  // table entry of each position of the current order
    std::uint32_t* rp = ref_prev_.data();
    std::uint32_t* rc = ref_cur_.data();
    std::uint32_t* hp = hyp_prev_.data();
    std::uint32_t* hc = hyp_cur_.data();
    std::int32_t* cnt = counts_.data();  // all zero between orders
    {                                    // order 1: the symbols themselves
      for (size_t i = 0; i < nr; ++i) ++cnt[ref[i]];
      std::int64_t m = 0;
      for (size_t i = 0; i < nh; ++i) {
        const int avail = cnt[hyp[i]] > 0;  // never for symbol 0
        cnt[hyp[i]] -= avail;
        m += avail;
      }
      matched[0] = m;
      for (size_t i = 0; i < nr; ++i) cnt[ref[i]] = 0;
      for (size_t i = 0; i < nr; ++i) rp[i] = ref[i];
      for (size_t i = 0; i < nh; ++i) hp[i] = hyp[i];
    }
    size_t prev_ids = n_symbols;  // ids of order n-1 are at most prev_ids
    for (int n = 2; n <= max_order && static_cast<size_t>(n) <= nr; ++n) {
      const size_t need = (prev_ids + 1) * stride;
      if (table_.size() < need) table_.resize(need, 0);
      std::uint32_t* table = table_.data();
      const size_t r_end = nr - static_cast<size_t>(n) + 1;
      const Sym* r_last = ref + n - 1;
      // An n-gram's id is 1 + the position of its first occurrence in the reference: no
      // loop-carried id counter, so consecutive positions' table loads overlap.
      for (size_t i = 0; i < r_end; ++i) {
        const size_t key = rp[i] * stride + r_last[i];
        const std::uint32_t v = table[key];
        const std::uint32_t id = v != 0 ? v : static_cast<std::uint32_t>(i + 1);
        table[key] = id;
        key_of[i] = static_cast<std::uint32_t>(key);
        rc[i] = id;
        ++cnt[id];
      }
      std::int64_t m = 0;
      if (static_cast<size_t>(n) <= nh) {
        const size_t h_end = nh - static_cast<size_t>(n) + 1;
        const Sym* h_last = hyp + n - 1;
        for (size_t i = 0; i < h_end; ++i) {
          const std::uint32_t id = table[hp[i] * stride + h_last[i]];
          hc[i] = id;
          const int avail = cnt[id] > 0;  // never for id 0
          cnt[id] -= avail;
          m += avail;
        }
        matched[n - 1] = m;
        std::swap(hp, hc);
      }
      cnt[0] = 0;
      for (size_t i = 0; i < r_end; ++i) {  // every key and id used (repeats cleared twice)
        table[key_of[i]] = 0;
        cnt[i + 1] = 0;
      }
      std::swap(rp, rc);
      prev_ids = r_end;
      // No match at this order: every hypothesis n-gram has id 0, so no longer one can match.
      if (m == 0) break;
    }
  }

 private:
  std::vector<std::uint32_t> ref_prev_, ref_cur_, hyp_prev_, hyp_cur_, table_, key_of_;
  std::vector<std::int32_t> counts_;
};

using NgramKey = unsigned __int128;

// Multiset of n-gram keys for the "sum of min(count_hyp, count_ref)" match count of BLEU, chrF
// and ROUGE-N: add() the reference n-grams, then take() each hypothesis n-gram. Open addressing
// with generation stamps, so reset() is O(1) and a small call uses a small, cache-resident table.
template <typename Key>
class BasicNgramTable {
 public:
  // Empties the table and sizes it for up to `expected` add() calls.
  void reset(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    if (cap > keys_.size()) {
      keys_.assign(cap, Key{});
      counts_.assign(cap, 0);
      stamps_.assign(cap, 0);
      stamp_ = 0;
    }
    mask_ = cap - 1;
    if (++stamp_ == 0) {  // wrapped: clear for real
      std::fill(stamps_.begin(), stamps_.end(), 0);
      stamp_ = 1;
    }
  }
  void add(Key key) {
    size_t slot = find_slot(key);
    if (stamps_[slot] != stamp_) {
      stamps_[slot] = stamp_;
      keys_[slot] = key;
      counts_[slot] = 0;
    }
    ++counts_[slot];
  }
  // True (and one occurrence consumed) when `key` is still available.
  bool take(Key key) {
    size_t slot = find_slot(key);
    if (stamps_[slot] != stamp_ || counts_[slot] == 0) return false;
    --counts_[slot];
    return true;
  }

 private:
  static std::uint64_t hash(Key k) {
    std::uint64_t h;
    if constexpr (sizeof(Key) > 8) {
      h = static_cast<std::uint64_t>(k) * 0x9e3779b97f4a7c15ULL ^
          (static_cast<std::uint64_t>(k >> 64) + 0x632be59bd9b4e019ULL) * 0xc2b2ae3d27d4eb4fULL;
    } else {
      h = static_cast<std::uint64_t>(k) * 0x9e3779b97f4a7c15ULL;
    }
    return h ^ (h >> 29) ^ (h >> 41);
  }
  size_t find_slot(Key key) const {
    size_t slot = hash(key) & mask_;
    while (stamps_[slot] == stamp_ && keys_[slot] != key) slot = (slot + 1) & mask_;
    return slot;
  }
  std::vector<Key> keys_;
  std::vector<std::int32_t> counts_;
  std::vector<std::uint32_t> stamps_;  // a slot is live when its stamp equals stamp_
  std::uint32_t stamp_ = 0;
  size_t mask_ = 0;
};

// Multiset of non-zero 64-bit keys with the same add()/take() contract as BasicNgramTable, laid
// out for the hot paths: one 16-byte slot per key (one cache line per probe), Fibonacci hashing,
// and reset() that clears only the slots the previous pair used, so a small pair touches a
// small, cache-resident prefix of the table whatever came before.
class FlatNgramCounter {
 public:
  // Empties the table and sizes it for up to `expected` add() calls.
  void reset(size_t expected) {
    for (std::uint32_t slot : used_) slots_[slot] = Slot{};
    used_.clear();
    int bits = 4;
    while ((size_t{1} << bits) < expected * 2) ++bits;
    if ((size_t{1} << bits) > slots_.size()) slots_.assign(size_t{1} << bits, Slot{});
    shift_ = 64 - bits;
    mask_ = (size_t{1} << bits) - 1;
  }
  // `key` must not be 0 (the empty marker).
  void add(std::uint64_t key) {
    size_t slot = find_slot(key);
    if (slots_[slot].key == 0) {
      slots_[slot].key = key;
      used_.push_back(static_cast<std::uint32_t>(slot));
    }
    ++slots_[slot].count;
  }
  // True (and one occurrence consumed) when `key` is still available.
  bool take(std::uint64_t key) {
    Slot& s = slots_[find_slot(key)];
    if (s.count == 0) return false;  // also the empty slot
    --s.count;
    return true;
  }
  // 1 (and one occurrence consumed) when `key` is still available, 0 when it was added but is
  // used up, -1 when it was never added.
  int take_or_absent(std::uint64_t key) {
    Slot& s = slots_[find_slot(key)];
    if (s.count > 0) {
      --s.count;
      return 1;
    }
    return s.key == 0 ? -1 : 0;
  }

 private:
  struct Slot {
    std::uint64_t key = 0;
    std::int64_t count = 0;
  };
  size_t find_slot(std::uint64_t key) const {
    size_t slot = static_cast<size_t>((key * 0x9e3779b97f4a7c15ULL) >> shift_);
    while (slots_[slot].key != key && slots_[slot].key != 0) slot = (slot + 1) & mask_;
    return slot;
  }
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> used_;  // slots that hold a key
  int shift_ = 60;
  size_t mask_ = 15;
};

// FlatNgramCounter for keys below 2^48 and counts below 2^16 (callers check: no pair adds more
// than 65535 keys): key and count share one 8-byte slot, so the table is half the size.
class PackedNgramCounter {
 public:
  static constexpr std::uint64_t kMaxKey = (std::uint64_t{1} << 48) - 1;
  static constexpr size_t kMaxAdds = 65535;
  void reset(size_t expected) {
    for (std::uint32_t slot : used_) slots_[slot] = 0;
    used_.clear();
    int bits = 4;
    while ((size_t{1} << bits) < expected * 2) ++bits;
    if ((size_t{1} << bits) > slots_.size()) slots_.assign(size_t{1} << bits, 0);
    shift_ = 64 - bits;
    mask_ = (size_t{1} << bits) - 1;
  }
  // 0 < key <= kMaxKey.
  void add(std::uint64_t key) {
    size_t slot = find_slot(key);
    if (slots_[slot] == 0) {
      slots_[slot] = key << 16;
      used_.push_back(static_cast<std::uint32_t>(slot));
    }
    ++slots_[slot];
  }
  bool take(std::uint64_t key) {
    std::uint64_t& v = slots_[find_slot(key)];
    if ((v & 0xFFFF) == 0) return false;  // also the empty slot
    --v;
    return true;
  }
  // 1 (and one occurrence consumed) when available, 0 when used up, -1 when never added.
  int take_or_absent(std::uint64_t key) {
    std::uint64_t& v = slots_[find_slot(key)];
    if ((v & 0xFFFF) != 0) {
      --v;
      return 1;
    }
    return v == 0 ? -1 : 0;
  }

 private:
  size_t find_slot(std::uint64_t key) const {
    size_t slot = static_cast<size_t>((key * 0x9e3779b97f4a7c15ULL) >> shift_);
    while (slots_[slot] != 0 && (slots_[slot] >> 16) != key) slot = (slot + 1) & mask_;
    return slot;
  }
  std::vector<std::uint64_t> slots_;  // key << 16 | count; 0 = empty
  std::vector<std::uint32_t> used_;
  int shift_ = 60;
  size_t mask_ = 15;
};

using NgramTable = BasicNgramTable<NgramKey>;
using NgramTable64 = BasicNgramTable<std::uint64_t>;

}  // namespace assay::scoring
