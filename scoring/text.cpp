#include "scoring/text.h"

#include <cstring>

#include "core/utf8.h"

namespace assay::scoring {
namespace {

bool ascii_space(unsigned char c) {
  return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20);
}

std::uint64_t hash_bytes(std::string_view s) {
  // FNV-1a over 8-byte blocks then a final mix; only used to pick slots (keys compared exactly).
  std::uint64_t h = 0xcbf29ce484222325ULL ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  for (; i < s.size(); ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 0x100000001b3ULL;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ULL;
  h ^= h >> 32;
  return h;
}

}  // namespace

std::string_view valid_utf8(std::string_view text, std::string& storage) {
  bool ascii = true;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
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
  if ((keys_.size() + 1) * 2 > slots_.size()) grow();
  std::uint64_t h = hash_bytes(token);
  for (std::uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
    std::uint32_t v = slots_[slot];
    if (v == 0) {
      keys_.push_back(token);
      hashes_.push_back(h);
      slots_[slot] = static_cast<std::uint32_t>(keys_.size());
      return static_cast<std::uint32_t>(keys_.size() - 1);
    }
    if (hashes_[v - 1] == h && keys_[v - 1] == token) return v - 1;
  }
}

void Interner::clear() {
  keys_.clear();
  hashes_.clear();
  std::fill(slots_.begin(), slots_.end(), 0);
}

void Interner::grow() {
  size_t cap = std::max<size_t>(64, slots_.size() * 2);
  slots_.assign(cap, 0);
  mask_ = cap - 1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    std::uint64_t slot = hashes_[i] & mask_;
    while (slots_[slot] != 0) slot = (slot + 1) & mask_;
    slots_[slot] = static_cast<std::uint32_t>(i + 1);
  }
}

}  // namespace assay::scoring
