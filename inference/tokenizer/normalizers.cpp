#include "inference/tokenizer/normalizers.h"

#include <cstdlib>
#include <optional>
#include <utility>

#include <utf8proc.h>

#include "core/utf8.h"

namespace assay::inference::hf {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty() || s.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

namespace {

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string utf8proc_transform(const std::string& s, int options) {
  if (is_ascii(s)) return s;  // every normalization form leaves ASCII alone
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &out,
                                    static_cast<utf8proc_option_t>(options));
  if (n < 0) return s;  // only on invalid UTF-8, which encode() has already repaired
  std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

bool is_unicode_space(char32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace

void Normalizer::apply(std::string& s) const {
  switch (type) {
    case Type::kNfc:
      s = utf8proc_transform(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
      break;
    case Type::kNfd:
      s = utf8proc_transform(s, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
      break;
    case Type::kNfkc:
      s = utf8proc_transform(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
      break;
    case Type::kNfkd:
      s = utf8proc_transform(s, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
      break;
    case Type::kLowercase: {
      std::string out;
      for (size_t pos = 0; pos < s.size();) {
        utf8::append(out, static_cast<char32_t>(utf8proc_tolower(utf8::decode(s, pos))));
      }
      s.swap(out);
      break;
    }
    case Type::kPrepend:
      if (!s.empty()) s.insert(0, a);
      break;
    case Type::kReplace:
      if (regex == nullptr) {
        replace_all(s, a, b);
      } else {
        std::vector<std::pair<size_t, size_t>> hits;
        regex->find_all(s, hits);
        if (hits.empty()) break;
        std::string out;
        size_t pos = 0;
        for (auto [begin, end] : hits) {
          out.append(s, pos, begin - pos);
          out.append(b);
          pos = end;
        }
        out.append(s, pos, std::string::npos);
        s.swap(out);
      }
      break;
    case Type::kStrip: {
      size_t begin = 0, end = s.size();
      if (left) {
        while (begin < end) {
          size_t next = begin;
          if (!is_unicode_space(utf8::decode(s, next))) break;
          begin = next;
        }
      }
      if (right) {
        while (end > begin) {
          size_t start = end - 1;
          while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
          size_t probe = start;
          if (!is_unicode_space(utf8::decode(s, probe))) break;
          end = start;
        }
      }
      s = s.substr(begin, end - begin);
      break;
    }
  }
}

namespace {

// The normalizers that have no fields.
std::optional<Normalizer::Type> plain_type(std::string_view name) {
  using T = Normalizer::Type;
  static constexpr std::pair<std::string_view, T> kPlain[] = {{"NFC", T::kNfc},
                                                              {"NFD", T::kNfd},
                                                              {"NFKC", T::kNfkc},
                                                              {"NFKD", T::kNfkd},
                                                              {"Lowercase", T::kLowercase}};
  for (const auto& [n, t] : kPlain)
    if (n == name) return t;
  return std::nullopt;
}

}  // namespace

Normalizer parse_normalizer(const Reader& r, const json& node, const std::string& type,
                            const std::string& where) {
  using T = Normalizer::Type;
  Normalizer n;
  if (const auto plain = plain_type(type)) {
    n.type = *plain;
  } else if (type == "Prepend") {
    n.type = T::kPrepend;
    n.a = r.string(node, "prepend", where);
  } else if (type == "Replace") {
    n.type = T::kReplace;
    auto [is_regex, pattern] = r.pattern(node, where);
    n.b = r.string(node, "content", where);
    if (is_regex) {
      n.regex = std::make_unique<TokenizerRegex>(pattern, r.label() + ": " + where);
    } else {
      n.a = pattern;
    }
  } else if (type == "Strip") {
    n.type = T::kStrip;
    n.left = r.boolean(node, "strip_left", false, where);
    n.right = r.boolean(node, "strip_right", false, where);
  } else {
    r.fail(where + ".type", "normalizer '" + type + "' is not supported");
  }
  return n;
}

}  // namespace assay::inference::hf
