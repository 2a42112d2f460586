// BPE merge loop: a doubly linked list of symbols and a min-heap of candidate pairs with lazy
// invalidation (a popped pair is used only if both sides are still what they were).
#include "inference/tokenizer/bpe.h"

#include <algorithm>
#include <queue>

namespace assay::inference {

int byte_piece_value(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  int hi = hex(piece[3]), lo = hex(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

namespace {

// Words up to this many symbols use the quadratic rescan instead of the heap.
constexpr int32_t kSmallWord = 12;

struct Candidate {
  int32_t rank;
  int32_t pos;  // index of the left symbol
  int32_t left_id;
  int32_t right_id;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

void BpeMerges::reserve(size_t n) {
  size_t want = 16;
  while (want < n * 2) want *= 2;
  if (want <= slots_.size()) return;
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(want, Slot{});
  mask_ = want - 1;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    for (size_t i = mix(s.key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) {
        slots_[i] = s;
        break;
      }
    }
  }
}

void BpeMerges::add(int32_t left, int32_t right, int32_t rank, int32_t result) {
  if ((used_ + 1) * 2 > slots_.size()) reserve(std::max<size_t>(used_ + 1, slots_.size()));
  uint64_t k = key(left, right);
  for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
    Slot& slot = slots_[i];
    if (slot.key == k) {
      slot.merge = Merge{rank, result};
      return;
    }
    if (slot.key == kEmpty) {
      slot = Slot{k, Merge{rank, result}};
      ++used_;
      return;
    }
  }
}

void BpeMerges::apply(std::vector<int32_t>& symbols) const {
  const int32_t n = static_cast<int32_t>(symbols.size());
  if (n < 2) return;
  if (n <= kSmallWord) {
    // Short words (most byte-level pre-tokens): rescan every adjacent pair per merge; no
    // allocation, and the same choice as the heap below (lowest rank, then leftmost).
    int32_t m = n;
    while (true) {
      int32_t best_pos = -1;
      const Merge* best = nullptr;
      for (int32_t i = 0; i + 1 < m; ++i) {
        if (symbols[i] < 0 || symbols[i + 1] < 0) continue;
        const Merge* merge = find(symbols[i], symbols[i + 1]);
        if (merge != nullptr && (best == nullptr || merge->rank < best->rank)) {
          best = merge;
          best_pos = i;
        }
      }
      if (best == nullptr) break;
      symbols[best_pos] = best->result;
      symbols.erase(symbols.begin() + best_pos + 1);
      --m;
    }
    return;
  }
  std::vector<int32_t> prev(n), next(n);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::vector<Candidate> storage;
  storage.reserve(n);
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap(std::greater<>{},
                                                                              std::move(storage));
  auto consider = [&](int32_t pos) {
    int32_t right = next[pos];
    if (right < 0) return;
    int32_t a = symbols[pos], b = symbols[right];
    if (a < 0 || b < 0) return;
    if (const Merge* m = find(a, b)) heap.push(Candidate{m->rank, pos, a, b});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    // Stale: the left symbol was merged away or changed, or its right neighbour changed.
    if (symbols[c.pos] != c.left_id) continue;
    int32_t right = next[c.pos];
    if (right < 0 || symbols[right] != c.right_id) continue;
    const Merge* m = find(c.left_id, c.right_id);
    symbols[c.pos] = m->result;
    symbols[right] = -2;  // dead; never equals a live id
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    if (prev[c.pos] >= 0) consider(prev[c.pos]);
    consider(c.pos);
  }
  int32_t out = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) symbols[out++] = symbols[i];
  symbols.resize(out);
}

}  // namespace assay::inference
