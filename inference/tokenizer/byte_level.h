// GPT-2's byte-level alphabet: every byte as a printable character (ByteLevel pre-tokenizer and
// decoder, byte-level BPE vocabularies), and the GPT-2 split pattern. Internal to
// inference/tokenizer/.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace assay::inference::hf {

// The GPT-2 pre-tokenizer regex that ByteLevel uses when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// GPT-2's byte <-> printable character table.
struct ByteLevelTable {
  std::array<std::string, 256> byte_to_char;
  std::unordered_map<char32_t, uint8_t> char_to_byte;
  ByteLevelTable();
};

// The one table (made on first use).
const ByteLevelTable& byte_level_table();

}  // namespace assay::inference::hf
