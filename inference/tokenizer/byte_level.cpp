#include "inference/tokenizer/byte_level.h"

#include "core/utf8.h"

namespace assay::inference::hf {

ByteLevelTable::ByteLevelTable() {
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
    utf8::append(byte_to_char[b], cp);
    char_to_byte[cp] = static_cast<uint8_t>(b);
  }
}

const ByteLevelTable& byte_level_table() {
  static const ByteLevelTable table;
  return table;
}

}  // namespace assay::inference::hf
