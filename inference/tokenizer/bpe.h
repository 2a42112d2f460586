// The BPE merge loop shared by tokenizer.json (merges ranked by their order in the file) and
// tokenizer.model (merges ranked by the score of the merged piece): repeatedly merge the adjacent
// pair of lowest rank, the leftmost first among equal ranks. Internal to inference/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace assay::inference {

// The byte of a byte-fallback piece: "<0x41>" -> 0x41; -1 when `piece` is not exactly "<0x",
// two hex digits, ">" (tokenizer.model byte pieces, tokenizer.json's ByteFallback decoder).
int byte_piece_value(std::string_view piece);

class BpeMerges {
 public:
  struct Merge {
    int32_t rank = 0;    // lower merges first; equal ranks merge leftmost first
    int32_t result = 0;  // id of the merged token
  };

  // Registers that (left, right) merges into `result` with `rank`. A later call for the same pair
  // replaces the earlier one (as Hugging Face tokenizers does for duplicate merges). Ids are >= 0.
  void add(int32_t left, int32_t right, int32_t rank, int32_t result);
  // The merge of (left, right), or nullptr.
  const Merge* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    uint64_t k = key(left, right);
    for (size_t i = mix(k) & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.key == k) return &slot.merge;
      if (slot.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return used_; }
  void reserve(size_t n);

  // Merges `symbols` in place. Negative ids (unknown symbols) never merge.
  void apply(std::vector<int32_t>& symbols) const;

 private:
  // Open addressing, linear probing: one cache line per lookup on the hot path.
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge;
  };
  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  static size_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t used_ = 0;
};

}  // namespace assay::inference
