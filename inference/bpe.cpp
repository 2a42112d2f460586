// BPE merge loop: a doubly linked list of symbols and a min-heap of candidate pairs with lazy
// invalidation (a popped pair is used only if both sides are still what they were).
#include "inference/bpe.h"

#include <algorithm>
#include <queue>

namespace assay::inference {

namespace {

struct Candidate {
  int32_t rank;
  int32_t pos;  // index of the left symbol
  int32_t left_id;
  int32_t right_id;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

void BpeMerges::apply(std::vector<int32_t>& symbols) const {
  const int32_t n = static_cast<int32_t>(symbols.size());
  if (n < 2) return;
  if (n == 2) {
    if (const Merge* m = find(symbols[0], symbols[1]);
        m != nullptr && symbols[0] >= 0 && symbols[1] >= 0) {
      symbols.assign(1, m->result);
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
