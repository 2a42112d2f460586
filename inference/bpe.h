// The BPE merge loop shared by tokenizer.json (merges ranked by their order in the file) and
// tokenizer.model (merges ranked by the score of the merged piece): repeatedly merge the adjacent
// pair of lowest rank, the leftmost first among equal ranks. Internal to inference/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace assay::inference {

class BpeMerges {
 public:
  struct Merge {
    int32_t rank = 0;    // lower merges first; equal ranks merge leftmost first
    int32_t result = 0;  // id of the merged token
  };

  // Registers that (left, right) merges into `result` with `rank`. A later call for the same pair
  // replaces the earlier one (as Hugging Face tokenizers does for duplicate merges).
  void add(int32_t left, int32_t right, int32_t rank, int32_t result) {
    map_.insert_or_assign(key(left, right), Merge{rank, result});
  }
  const Merge* find(int32_t left, int32_t right) const {
    auto it = map_.find(key(left, right));
    return it == map_.end() ? nullptr : &it->second;
  }
  size_t size() const { return map_.size(); }
  void reserve(size_t n) { map_.reserve(n); }

  // Merges `symbols` in place. Negative ids (unknown symbols) never merge.
  void apply(std::vector<int32_t>& symbols) const;

 private:
  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  std::unordered_map<uint64_t, Merge> map_;
};

}  // namespace assay::inference
