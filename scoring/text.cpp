#include "scoring/text.h"

#include <cstring>

#include "core/utf8.h"

namespace assay::scoring {
namespace {

bool ascii_space(unsigned char c) {
  return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20);
}

std::uint64_t load_le(const char* p, size_t n) {  // n <= 8 bytes
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  return w;
}

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

std::uint64_t hash_bytes(std::string_view s) {
  // Only picks slots (keys are compared exactly). Tokens are short: up to 16 bytes take two
  // overlapping loads and one multiply, no per-byte loop.
  const char* p = s.data();
  const size_t n = s.size();
  constexpr std::uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL;
  std::uint64_t a, b;
  if (n <= 8) {
    if (n >= 4) {
      a = load_le(p, 4);
      b = load_le(p + n - 4, 4);
    } else if (n > 0) {
      a = (static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
          (static_cast<std::uint64_t>(static_cast<unsigned char>(p[n >> 1])) << 8) |
          static_cast<unsigned char>(p[n - 1]);
      b = 0;
    } else {
      a = b = 0;
    }
  } else if (n <= 16) {
    a = load_le(p, 8);
    b = load_le(p + n - 8, 8);
  } else {
    std::uint64_t h = k0 ^ n;
    size_t i = 0;
    for (; i + 16 < n; i += 16) h = mix(load_le(p + i, 8) ^ k1, load_le(p + i + 8, 8) ^ h);
    a = load_le(p + n - 16, 8) ^ h;
    b = load_le(p + n - 8, 8);
  }
  return mix(a ^ k1 ^ n, b ^ k0);
}

}  // namespace

std::string_view valid_utf8(std::string_view text, std::string& storage) {
  bool ascii = true;
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {  // 8 bytes at a time: any high bit?
    std::uint64_t w;
    std::memcpy(&w, text.data() + i, 8);
    if (w & 0x8080808080808080ULL) {
      ascii = false;
      break;
    }
  }
  for (; ascii && i < text.size(); ++i) ascii = static_cast<unsigned char>(text[i]) < 0x80;
  if (ascii || utf8::is_valid(text)) return text;
  storage.clear();
  storage.reserve(text.size() + 8);
  size_t pos = 0;
  while (pos < text.size()) utf8::append(storage, utf8::decode(text, pos));
  return storage;
}

bool py_space_at(std::string_view s, size_t pos, size_t& len) {
  auto c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80) {
    len = 1;
    return ascii_space(c);
  }
  size_t next = pos;
  char32_t cp = utf8::decode(s, next);
  len = next - pos;
  return utf8::py_isspace(cp);
}

void py_split(std::string_view text, std::vector<std::string_view>& out) {
  size_t pos = 0, start = 0;
  bool in_token = false;
  while (pos < text.size()) {
    size_t len = 1;
    auto c = static_cast<unsigned char>(text[pos]);
    bool space = c < 0x80 ? ascii_space(c) : py_space_at(text, pos, len);
    if (space) {
      if (in_token) out.push_back(text.substr(start, pos - start));
      in_token = false;
    } else if (!in_token) {
      in_token = true;
      start = pos;
    }
    pos += len;
  }
  if (in_token) out.push_back(text.substr(start));
}

size_t count_code_points(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::uint32_t Interner::id(std::string_view token) {
  if ((keys_.size() + 1) * 2 > mask_ + 1) grow();
  std::uint64_t h = hash_bytes(token);
  for (std::uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
    std::uint32_t v = slots_[slot];
    if (v == 0) {
      keys_.push_back(token);
      hashes_.push_back(h);
      slots_[slot] = static_cast<std::uint32_t>(keys_.size());
      used_.push_back(static_cast<std::uint32_t>(slot));
      return static_cast<std::uint32_t>(keys_.size() - 1);
    }
    if (hashes_[v - 1] == h && keys_[v - 1] == token) return v - 1;
  }
}

void Interner::clear(size_t expected) {
  for (std::uint32_t slot : used_) slots_[slot] = 0;
  used_.clear();
  keys_.clear();
  hashes_.clear();
  size_t cap = 64;
  while (cap < expected * 2) cap *= 2;
  if (cap > slots_.size()) slots_.assign(cap, 0);
  mask_ = cap - 1;
}

void Interner::grow() {
  size_t cap = std::max<size_t>(64, (mask_ + 1) * 2);
  for (std::uint32_t slot : used_) slots_[slot] = 0;
  used_.clear();
  if (cap > slots_.size()) slots_.assign(cap, 0);
  mask_ = cap - 1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    std::uint64_t slot = hashes_[i] & mask_;
    while (slots_[slot] != 0) slot = (slot + 1) & mask_;
    slots_[slot] = static_cast<std::uint32_t>(i + 1);
    used_.push_back(static_cast<std::uint32_t>(slot));
  }
}

}  // namespace assay::scoring
