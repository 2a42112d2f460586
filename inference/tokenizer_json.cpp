// Hugging Face tokenizer.json: added-token split, normalizers, pre-tokenizers, the BPE model,
// post-processors and decoders, following the Rust `tokenizers` library's semantics.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include <utf8proc.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/utf8.h"
#include "inference/bpe.h"
#include "inference/tokenizer_impl.h"
#include "inference/tokenizer_regex.h"

namespace assay::inference {

namespace {

using nlohmann::json;

constexpr int32_t kMaxId = 1 << 24;  // ids above this are refused (no real vocabulary is near)

// The GPT-2 pre-tokenizer regex that ByteLevel uses when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// GPT-2's byte <-> printable character table.
struct ByteLevelTable {
  std::array<std::string, 256> byte_to_char;
  std::unordered_map<char32_t, uint8_t> char_to_byte;
  ByteLevelTable() {
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      utf8::append(byte_to_char[b], cp);
      char_to_byte[cp] = static_cast<uint8_t>(b);
    }
  }
};

const ByteLevelTable& byte_level_table() {
  static const ByteLevelTable table;
  return table;
}

// Checked access to tokenizer.json fields; every error names the file and the JSON path.
class Reader {
 public:
  explicit Reader(std::string label) : label_(std::move(label)) {}
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw_invalid(label_ + ": " + where + ": " + what);
  }
  const json& object(const json& parent, const char* key, const std::string& where) const {
    const json& v = field(parent, key, where);
    if (!v.is_object()) fail(where + "." + key, "must be an object");
    return v;
  }
  const json& field(const json& parent, const char* key, const std::string& where) const {
    if (!parent.is_object()) fail(where, "must be an object");
    auto it = parent.find(key);
    if (it == parent.end()) fail(where, std::string("missing field '") + key + "'");
    return *it;
  }
  std::string string(const json& parent, const char* key, const std::string& where) const {
    const json& v = field(parent, key, where);
    if (!v.is_string()) fail(where + "." + key, "must be a string");
    return v.get<std::string>();
  }
  std::string type(const json& node, const std::string& where) const {
    return string(node, "type", where);
  }
  bool boolean(const json& parent, const char* key, bool fallback, const std::string& where) const {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(where + "." + key, "must be true or false");
    return it->get<bool>();
  }
  int64_t integer(const json& v, const std::string& where) const {
    if (!v.is_number_integer()) fail(where, "must be an integer");
    return v.get<int64_t>();
  }
  int32_t id(const json& v, const std::string& where) const {
    int64_t value = integer(v, where);
    if (value < 0 || value >= kMaxId)
      fail(where, "id " + std::to_string(value) + " is out of range");
    return static_cast<int32_t>(value);
  }
  const json& array(const json& parent, const char* key, const std::string& where) const {
    const json& v = field(parent, key, where);
    if (!v.is_array()) fail(where + "." + key, "must be an array");
    return v;
  }
  // A Replace/Split "pattern": {"String": s} or {"Regex": r}. Returns (is_regex, text).
  std::pair<bool, std::string> pattern(const json& node, const std::string& where) const {
    const json& p = object(node, "pattern", where);
    if (auto it = p.find("String"); it != p.end() && it->is_string())
      return {false, it->get<std::string>()};
    if (auto it = p.find("Regex"); it != p.end() && it->is_string())
      return {true, it->get<std::string>()};
    fail(where + ".pattern", "must be {\"String\": ...} or {\"Regex\": ...}");
  }
  const std::string& label() const { return label_; }

 private:
  std::string label_;
};

// Escapes a literal for PCRE2 (ASCII punctuation only; UTF-8 bytes pass through).
std::string regex_quote(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

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

// ---- normalizers ----------------------------------------------------------------------------

struct Normalizer {
  enum class Type { kNfc, kNfd, kNfkc, kNfkd, kLowercase, kPrepend, kReplace, kStrip };
  Type type;
  std::string a, b;                       // Prepend: a; Replace: a -> b
  std::unique_ptr<TokenizerRegex> regex;  // Replace with a Regex pattern
  bool left = false, right = false;       // Strip

  void apply(std::string& s) const {
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
};

void parse_normalizer(const Reader& r, const json& node, const std::string& where,
                      std::vector<Normalizer>& out) {
  if (node.is_null()) return;
  std::string type = r.type(node, where);
  using T = Normalizer::Type;
  Normalizer n;
  if (type == "Sequence") {
    const json& list = r.array(node, "normalizers", where);
    for (size_t i = 0; i < list.size(); ++i) {
      parse_normalizer(r, list[i], where + ".normalizers[" + std::to_string(i) + "]", out);
    }
    return;
  } else if (type == "NFC") {
    n.type = T::kNfc;
  } else if (type == "NFD") {
    n.type = T::kNfd;
  } else if (type == "NFKC") {
    n.type = T::kNfkc;
  } else if (type == "NFKD") {
    n.type = T::kNfkd;
  } else if (type == "Lowercase") {
    n.type = T::kLowercase;
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
  out.push_back(std::move(n));
}

// ---- pre-tokenizers -------------------------------------------------------------------------

struct PreTokenizer {
  enum class Type { kSplit, kByteLevel, kMetaspace };
  enum class Behavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext };
  Type type;
  std::unique_ptr<TokenizerRegex> regex;  // Split; ByteLevel with use_regex
  Behavior behavior = Behavior::kIsolated;
  bool add_prefix_space = false;  // ByteLevel
  std::string replacement;        // Metaspace
  enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;
  bool split = true;  // Metaspace

  // Splits every piece of `pieces`. `first_piece_is_text_start`: pieces[0] begins the input.
  void apply(std::vector<std::string>& pieces, bool first_piece_is_text_start) const {
    std::vector<std::string> out;
    out.reserve(pieces.size() * 2);
    std::vector<std::pair<size_t, size_t>> hits;
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::string& piece = pieces[i];
      switch (type) {
        case Type::kSplit:
          split_regex(piece, *regex, behavior, hits, out);
          break;
        case Type::kByteLevel:
          if (add_prefix_space && (piece.empty() || piece[0] != ' ')) piece.insert(0, " ");
          if (regex != nullptr) {
            split_regex(piece, *regex, Behavior::kIsolated, hits, out);
          } else if (!piece.empty()) {
            out.push_back(std::move(piece));
          }
          break;
        case Type::kMetaspace: {
          replace_all(piece, " ", replacement);
          bool first = i == 0 && first_piece_is_text_start;
          if ((prepend == Prepend::kAlways || (prepend == Prepend::kFirst && first)) &&
              piece.compare(0, replacement.size(), replacement) != 0) {
            piece.insert(0, replacement);
          }
          if (!split) {
            if (!piece.empty()) out.push_back(std::move(piece));
            break;
          }
          // MergedWithNext on the replacement character.
          size_t start = 0;
          for (size_t pos = piece.find(replacement, 1); pos != std::string::npos;
               pos = piece.find(replacement, pos + 1)) {
            if (pos > start) out.push_back(piece.substr(start, pos - start));
            start = pos;
          }
          if (start < piece.size()) out.push_back(piece.substr(start));
          break;
        }
      }
    }
    pieces.swap(out);
  }

  static void split_regex(const std::string& piece, const TokenizerRegex& re, Behavior behavior,
                          std::vector<std::pair<size_t, size_t>>& hits,
                          std::vector<std::string>& out) {
    hits.clear();
    re.find_all(piece, hits);
    size_t pos = 0;
    std::string pending;  // kMergedWithNext: a match waiting for the text after it
    for (auto [begin, end] : hits) {
      std::string_view gap(piece.data() + pos, begin - pos);
      std::string_view match(piece.data() + begin, end - begin);
      switch (behavior) {
        case Behavior::kIsolated:
          if (!gap.empty()) out.emplace_back(gap);
          out.emplace_back(match);
          break;
        case Behavior::kRemoved:
          if (!gap.empty()) out.emplace_back(gap);
          break;
        case Behavior::kMergedWithPrevious:
          if (!gap.empty()) {
            out.emplace_back(gap);
            out.back().append(match);
          } else if (!out.empty() && pos > 0) {
            out.back().append(match);
          } else {
            out.emplace_back(match);
          }
          break;
        case Behavior::kMergedWithNext:
          if (!gap.empty()) {
            pending.append(gap);
            out.push_back(std::move(pending));
            pending.clear();
          } else if (!pending.empty()) {
            out.push_back(std::move(pending));
            pending.clear();
          }
          pending.assign(match);
          break;
      }
      pos = end;
    }
    std::string_view tail(piece.data() + pos, piece.size() - pos);
    if (behavior == Behavior::kMergedWithNext) {
      pending.append(tail);
      if (!pending.empty()) out.push_back(std::move(pending));
    } else if (!tail.empty()) {
      out.emplace_back(tail);
    }
  }
};

void parse_pre_tokenizer(const Reader& r, const json& node, const std::string& where,
                         std::vector<PreTokenizer>& out) {
  if (node.is_null()) return;
  std::string type = r.type(node, where);
  using T = PreTokenizer::Type;
  using B = PreTokenizer::Behavior;
  PreTokenizer p;
  if (type == "Sequence") {
    const json& list = r.array(node, "pretokenizers", where);
    for (size_t i = 0; i < list.size(); ++i) {
      parse_pre_tokenizer(r, list[i], where + ".pretokenizers[" + std::to_string(i) + "]", out);
    }
    return;
  } else if (type == "Split") {
    p.type = T::kSplit;
    auto [is_regex, pattern] = r.pattern(node, where);
    p.regex = std::make_unique<TokenizerRegex>(is_regex ? pattern : regex_quote(pattern),
                                               r.label() + ": " + where);
    std::string behavior = r.string(node, "behavior", where);
    if (behavior == "Isolated") {
      p.behavior = B::kIsolated;
    } else if (behavior == "Removed") {
      p.behavior = B::kRemoved;
    } else if (behavior == "MergedWithPrevious") {
      p.behavior = B::kMergedWithPrevious;
    } else if (behavior == "MergedWithNext") {
      p.behavior = B::kMergedWithNext;
    } else {
      r.fail(where + ".behavior", "'" + behavior + "' is not supported");
    }
    if (r.boolean(node, "invert", false, where)) r.fail(where + ".invert", "true is not supported");
  } else if (type == "ByteLevel") {
    p.type = T::kByteLevel;
    p.add_prefix_space = r.boolean(node, "add_prefix_space", true, where);
    if (r.boolean(node, "use_regex", true, where)) {
      p.regex = std::make_unique<TokenizerRegex>(kGpt2Pattern, r.label() + ": " + where);
    }
  } else if (type == "Metaspace") {
    p.type = T::kMetaspace;
    p.replacement = r.string(node, "replacement", where);
    if (p.replacement.empty()) r.fail(where + ".replacement", "must not be empty");
    p.split = r.boolean(node, "split", true, where);
    if (auto it = node.find("prepend_scheme"); it != node.end() && it->is_string()) {
      std::string scheme = it->get<std::string>();
      if (scheme == "always") {
        p.prepend = PreTokenizer::Prepend::kAlways;
      } else if (scheme == "first") {
        p.prepend = PreTokenizer::Prepend::kFirst;
      } else if (scheme == "never") {
        p.prepend = PreTokenizer::Prepend::kNever;
      } else {
        r.fail(where + ".prepend_scheme", "'" + scheme + "' is not one of always, first, never");
      }
    } else {
      p.prepend = r.boolean(node, "add_prefix_space", true, where) ? PreTokenizer::Prepend::kAlways
                                                                   : PreTokenizer::Prepend::kNever;
    }
  } else {
    r.fail(where + ".type", "pre-tokenizer '" + type + "' is not supported");
  }
  out.push_back(std::move(p));
}

// ---- decoders -------------------------------------------------------------------------------

struct Decoder {
  enum class Type { kReplace, kByteFallback, kFuse, kStrip, kByteLevel, kMetaspace };
  Type type;
  std::string a, b;  // Replace a -> b; Strip: a = content; Metaspace: a = replacement
  size_t start = 0, stop = 0;
  bool strip_first_space = true;  // Metaspace

  void apply(std::vector<std::string>& tokens) const {
    switch (type) {
      case Type::kReplace:
        for (auto& t : tokens) replace_all(t, a, b);
        break;
      case Type::kByteFallback:
        byte_fallback(tokens);
        break;
      case Type::kFuse: {
        std::string all;
        for (auto& t : tokens) all += t;
        tokens.assign(1, std::move(all));
        break;
      }
      case Type::kStrip:
        for (auto& t : tokens) strip(t);
        break;
      case Type::kByteLevel: {
        const ByteLevelTable& table = byte_level_table();
        std::string bytes;
        for (const auto& t : tokens) {
          size_t mark = bytes.size();
          bool all_mapped = true;
          for (size_t pos = 0; pos < t.size();) {
            auto it = table.char_to_byte.find(utf8::decode(t, pos));
            if (it == table.char_to_byte.end()) {
              all_mapped = false;
              break;
            }
            bytes.push_back(static_cast<char>(it->second));
          }
          if (!all_mapped) {
            bytes.resize(mark);
            bytes.append(t);
          }
        }
        tokens.assign(1, utf8_lossy(bytes));
        break;
      }
      case Type::kMetaspace:
        for (size_t i = 0; i < tokens.size(); ++i) {
          replace_all(tokens[i], a, " ");
          if (i == 0 && strip_first_space && !tokens[i].empty() && tokens[i][0] == ' ') {
            tokens[i].erase(0, 1);
          }
        }
        break;
    }
  }

  // "<0x41>" -> 0x41; -1 when `t` is not a byte token.
  static int byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }

  static void byte_fallback(std::vector<std::string>& tokens) {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string bytes;
    size_t count = 0;
    auto flush = [&] {
      if (count == 0) return;
      if (utf8::is_valid(bytes)) {
        out.push_back(bytes);
      } else {
        for (size_t i = 0; i < count; ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      bytes.clear();
      count = 0;
    };
    for (auto& t : tokens) {
      int b = byte_token(t);
      if (b >= 0) {
        bytes.push_back(static_cast<char>(b));
        ++count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }

  void strip(std::string& t) const {
    size_t begin = 0, end = t.size();
    for (size_t i = 0; i < start && begin < end && t.compare(begin, a.size(), a) == 0; ++i) {
      begin += a.size();
    }
    for (size_t i = 0;
         i < stop && end >= begin + a.size() && t.compare(end - a.size(), a.size(), a) == 0; ++i) {
      end -= a.size();
    }
    t = t.substr(begin, end - begin);
  }
};

void parse_decoder(const Reader& r, const json& node, const std::string& where,
                   std::vector<Decoder>& out) {
  if (node.is_null()) return;
  std::string type = r.type(node, where);
  using T = Decoder::Type;
  Decoder d;
  if (type == "Sequence") {
    const json& list = r.array(node, "decoders", where);
    for (size_t i = 0; i < list.size(); ++i) {
      parse_decoder(r, list[i], where + ".decoders[" + std::to_string(i) + "]", out);
    }
    return;
  } else if (type == "Replace") {
    d.type = T::kReplace;
    auto [is_regex, pattern] = r.pattern(node, where);
    if (is_regex)
      r.fail(where + ".pattern", "a Regex pattern in a Replace decoder is not supported");
    d.a = pattern;
    d.b = r.string(node, "content", where);
  } else if (type == "ByteFallback") {
    d.type = T::kByteFallback;
  } else if (type == "Fuse") {
    d.type = T::kFuse;
  } else if (type == "Strip") {
    d.type = T::kStrip;
    d.a = r.string(node, "content", where);
    if (d.a.empty()) r.fail(where + ".content", "must not be empty");
    int64_t start = r.integer(r.field(node, "start", where), where + ".start");
    int64_t stop = r.integer(r.field(node, "stop", where), where + ".stop");
    if (start < 0 || stop < 0) r.fail(where, "start and stop must not be negative");
    d.start = static_cast<size_t>(start);
    d.stop = static_cast<size_t>(stop);
  } else if (type == "ByteLevel") {
    d.type = T::kByteLevel;
  } else if (type == "Metaspace") {
    d.type = T::kMetaspace;
    d.a = r.string(node, "replacement", where);
    if (d.a.empty()) r.fail(where + ".replacement", "must not be empty");
    if (auto it = node.find("prepend_scheme"); it != node.end() && it->is_string()) {
      d.strip_first_space = it->get<std::string>() != "never";
    } else {
      d.strip_first_space = r.boolean(node, "add_prefix_space", true, where);
    }
  } else {
    r.fail(where + ".type", "decoder '" + type + "' is not supported");
  }
  out.push_back(std::move(d));
}

// ---- the tokenizer --------------------------------------------------------------------------

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false;
};

// Post-processor template for add_special_tokens: ids before and after the sequence.
struct PostProcessor {
  std::vector<int32_t> before;
  std::vector<int32_t> after;
};

class JsonTokenizer final : public Tokenizer {
 public:
  JsonTokenizer(std::string_view text, const std::string& label, const TokenizerConfig& config);

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const override;
  TokenizerKind kind() const override {
    return byte_level_ ? TokenizerKind::kByteLevelBpe : TokenizerKind::kSentencePieceBpeJson;
  }

 private:
  void parse_model(const Reader& r, const json& model);
  void parse_added_tokens(const Reader& r, const json& list);
  void parse_post_processor(const Reader& r, const json& node, const std::string& where);
  int32_t special_token_id(const Reader& r, const json& processor, const std::string& name,
                           const std::string& where) const;

  // Encodes text that holds no added token; `at_text_start`: it begins the whole input.
  void encode_segment(std::string segment, bool at_text_start, std::vector<int32_t>& out) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // Finds the next added token at or after `from`: [begin, end) of the text it covers.
  bool find_added(std::string_view text, size_t from, size_t& begin, size_t& end,
                  int32_t& id) const;

  std::vector<Normalizer> normalizers_;
  std::vector<PreTokenizer> pre_tokenizers_;
  std::vector<Decoder> decoders_;
  PostProcessor post_;
  BpeMerges merges_;
  bool byte_level_ = false;     // the last pre-tokenizer is ByteLevel: words are raw bytes
  bool ignore_merges_ = false;  // a whole word in the vocabulary is one token
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  std::optional<int32_t> unk_id_;
  std::array<int32_t, 256> byte_ids_{};      // byte-level: id of each byte's character (-1: none)
  std::array<int32_t, 256> fallback_ids_{};  // byte_fallback: id of "<0xXX>" (-1: none)

  std::vector<AddedToken> added_;
  // Byte trie over added-token contents: node -> (byte -> child); token id at a node or -1.
  std::unordered_map<uint64_t, int32_t> trie_edges_;
  std::vector<int32_t> trie_token_;  // node -> index into added_, or -1
  std::array<bool, 256> added_first_byte_{};
};

JsonTokenizer::JsonTokenizer(std::string_view text, const std::string& label,
                             const TokenizerConfig& config) {
  Reader r(label);
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    throw_invalid(label + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) throw_invalid(label + ": must be a JSON object");
  try {
    parse_model(r, r.object(root, "model", "tokenizer"));
    if (auto it = root.find("added_tokens"); it != root.end() && !it->is_null()) {
      if (!it->is_array()) r.fail("added_tokens", "must be an array");
      parse_added_tokens(r, *it);
    }
    auto section = [&](const char* key) -> const json& {
      static const json null_node;
      auto it = root.find(key);
      return it == root.end() ? null_node : *it;
    };
    parse_normalizer(r, section("normalizer"), "normalizer", normalizers_);
    parse_pre_tokenizer(r, section("pre_tokenizer"), "pre_tokenizer", pre_tokenizers_);
    for (size_t i = 0; i < pre_tokenizers_.size(); ++i) {
      if (pre_tokenizers_[i].type == PreTokenizer::Type::kByteLevel) {
        if (i + 1 != pre_tokenizers_.size()) {
          r.fail("pre_tokenizer", "a ByteLevel pre-tokenizer must come last");
        }
        byte_level_ = true;
      }
    }
    parse_post_processor(r, section("post_processor"), "post_processor");
    parse_decoder(r, section("decoder"), "decoder", decoders_);
  } catch (const json::exception& e) {
    throw_invalid(label + ": " + e.what());
  }

  if (byte_level_) {
    const ByteLevelTable& table = byte_level_table();
    for (int b = 0; b < 256; ++b) {
      auto id = token_to_id(table.byte_to_char[b]);
      byte_ids_[b] = id ? *id : -1;
    }
  }
  auto resolve = [&](const std::optional<std::string>& token,
                     const char* name) -> std::optional<int32_t> {
    if (!token || token->empty()) return std::nullopt;
    auto id = token_to_id(*token);
    if (!id) {
      throw_invalid(label + ": tokenizer_config.json " + name + " '" + *token +
                    "' is not a token of this tokenizer");
    }
    return id;
  };
  bos_id_ = resolve(config.bos_token, "bos_token");
  eos_id_ = resolve(config.eos_token, "eos_token");
}

void JsonTokenizer::parse_model(const Reader& r, const json& model) {
  std::string type = model.contains("type") ? r.type(model, "model") : "BPE";
  if (type != "BPE") r.fail("model.type", "'" + type + "' is not supported (only BPE)");
  if (auto it = model.find("dropout"); it != model.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() != 0.0)
      r.fail("model.dropout", "BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && !it->is_null() &&
        !(it->is_string() && it->get<std::string>().empty())) {
      r.fail(std::string("model.") + key, "a non-empty value is not supported");
    }
  }
  ignore_merges_ = r.boolean(model, "ignore_merges", false, "model");
  byte_fallback_ = r.boolean(model, "byte_fallback", false, "model");
  fuse_unk_ = r.boolean(model, "fuse_unk", false, "model");

  const json& vocab = r.object(model, "vocab", "model");
  token_to_id_.reserve(vocab.size() + 1024);
  for (const auto& [token, value] : vocab.items()) {
    set_token(r.id(value, "model.vocab['" + token + "']"), token, false);
  }
  if (auto it = model.find("unk_token"); it != model.end() && !it->is_null()) {
    if (!it->is_string()) r.fail("model.unk_token", "must be a string");
    auto id = token_to_id(it->get<std::string>());
    if (!id) r.fail("model.unk_token", "'" + it->get<std::string>() + "' is not in model.vocab");
    unk_id_ = id;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto id = token_to_id(name);
    fallback_ids_[b] = id ? *id : -1;
  }

  const json& merges = r.array(model, "merges", "model");
  merges_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const json& m = merges[rank];
    std::string_view left, right;
    std::string storage;
    if (m.is_string()) {
      storage = m.get<std::string>();
      size_t space = storage.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 >= storage.size()) {
        r.fail("model.merges[" + std::to_string(rank) + "]",
               "'" + storage + "' is not two tokens separated by a space");
      }
      left = std::string_view(storage).substr(0, space);
      right = std::string_view(storage).substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get_ref<const std::string&>();
      right = m[1].get_ref<const std::string&>();
    } else {
      r.fail("model.merges[" + std::to_string(rank) + "]", "must be \"a b\" or [\"a\", \"b\"]");
    }
    auto unknown = [&](std::string_view token) {
      r.fail("model.merges[" + std::to_string(rank) + "]",
             "refers to token '" + std::string(token) + "' that is not in model.vocab");
    };
    auto a = token_to_id(left);
    if (!a) unknown(left);
    auto b = token_to_id(right);
    if (!b) unknown(right);
    joined.assign(left);
    joined.append(right);
    auto merged = token_to_id(joined);
    if (!merged) unknown(joined);
    merges_.add(*a, *b, static_cast<int32_t>(rank), *merged);
  }
}

void JsonTokenizer::parse_added_tokens(const Reader& r, const json& list) {
  trie_token_.assign(1, -1);
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = "added_tokens[" + std::to_string(i) + "]";
    const json& t = list[i];
    AddedToken token;
    token.id = r.id(r.field(t, "id", where), where + ".id");
    token.content = r.string(t, "content", where);
    if (token.content.empty()) r.fail(where + ".content", "must not be empty");
    token.special = r.boolean(t, "special", false, where);
    token.lstrip = r.boolean(t, "lstrip", false, where);
    token.rstrip = r.boolean(t, "rstrip", false, where);
    token.single_word = r.boolean(t, "single_word", false, where);
    set_token(token.id, token.content, token.special);

    int32_t node = 0;
    for (char c : token.content) {
      uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(c);
      auto [it, inserted] = trie_edges_.try_emplace(key, static_cast<int32_t>(trie_token_.size()));
      if (inserted) trie_token_.push_back(-1);
      node = it->second;
    }
    trie_token_[node] = static_cast<int32_t>(added_.size());
    added_first_byte_[static_cast<unsigned char>(token.content[0])] = true;
    added_.push_back(std::move(token));
  }
}

int32_t JsonTokenizer::special_token_id(const Reader& r, const json& processor,
                                        const std::string& name, const std::string& where) const {
  auto id = token_to_id(name);
  if (!id) r.fail(where, "special token '" + name + "' is not in the vocabulary");
  return *id;
}

void JsonTokenizer::parse_post_processor(const Reader& r, const json& node,
                                         const std::string& where) {
  if (node.is_null()) return;
  std::string type = r.type(node, where);
  if (type == "Sequence") {
    const json& list = r.array(node, "processors", where);
    for (size_t i = 0; i < list.size(); ++i) {
      parse_post_processor(r, list[i], where + ".processors[" + std::to_string(i) + "]");
    }
  } else if (type == "ByteLevel") {
    // Only adjusts offsets; ids are unchanged.
  } else if (type == "TemplateProcessing") {
    const json& single = r.array(node, "single", where);
    const json* special = nullptr;
    if (auto it = node.find("special_tokens"); it != node.end() && it->is_object()) special = &*it;
    bool seen_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
      std::string at = where + ".single[" + std::to_string(i) + "]";
      const json& item = single[i];
      if (item.is_object() && item.contains("Sequence")) {
        seen_sequence = true;
      } else if (item.is_object() && item.contains("SpecialToken")) {
        std::string name = r.string(item["SpecialToken"], "id", at + ".SpecialToken");
        std::vector<int32_t> ids;
        if (special != nullptr && special->contains(name)) {
          const json& entry = (*special)[name];
          const json& list = r.array(entry, "ids", where + ".special_tokens['" + name + "']");
          for (const auto& v : list)
            ids.push_back(r.id(v, where + ".special_tokens['" + name + "'].ids"));
        } else {
          ids.push_back(special_token_id(r, node, name, at));
        }
        auto& target = seen_sequence ? post_.after : post_.before;
        target.insert(target.end(), ids.begin(), ids.end());
      } else {
        r.fail(at, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
      }
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    auto token = [&](const char* key) {
      const json& pair = r.field(node, key, where);
      if (!pair.is_array() || pair.size() != 2) r.fail(where + "." + key, "must be [token, id]");
      return r.id(pair[1], where + "." + key + "[1]");
    };
    post_.before.push_back(token("cls"));
    post_.after.push_back(token("sep"));
  } else {
    r.fail(where + ".type", "post-processor '" + type + "' is not supported");
  }
}

bool JsonTokenizer::find_added(std::string_view text, size_t from, size_t& begin, size_t& end,
                               int32_t& id) const {
  if (added_.empty()) return false;
  for (size_t pos = from; pos < text.size(); ++pos) {
    if (!added_first_byte_[static_cast<unsigned char>(text[pos])]) continue;
    int32_t node = 0;
    int32_t best = -1;
    size_t best_end = pos;
    for (size_t i = pos; i < text.size(); ++i) {
      uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]);
      auto it = trie_edges_.find(key);
      if (it == trie_edges_.end()) break;
      node = it->second;
      if (trie_token_[node] >= 0) {
        best = trie_token_[node];
        best_end = i + 1;
      }
    }
    if (best < 0) continue;
    const AddedToken& token = added_[best];
    auto is_word_byte = [&](size_t at) {
      size_t p = at;
      return utf8::py_isword(utf8::decode(text, p));
    };
    if (token.single_word) {
      size_t prev = pos;
      if (prev > 0) {
        --prev;
        while (prev > 0 && (static_cast<unsigned char>(text[prev]) & 0xC0) == 0x80) --prev;
      }
      bool glued_left = pos > 0 && is_word_byte(prev);
      bool glued_right = best_end < text.size() && is_word_byte(best_end);
      if (glued_left || glued_right) continue;
    }
    begin = pos;
    end = best_end;
    if (token.lstrip) {
      while (begin > from && std::isspace(static_cast<unsigned char>(text[begin - 1]))) --begin;
    }
    if (token.rstrip) {
      while (end < text.size() && std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    }
    id = token.id;
    return true;
  }
  return false;
}

std::vector<int32_t> JsonTokenizer::encode(std::string_view input, bool add_special_tokens) const {
  std::string repaired;
  if (!utf8::is_valid(input)) {
    repaired = utf8_lossy(input);
    input = repaired;
  }
  std::vector<int32_t> out;
  out.reserve(input.size() / 3 + 4);
  if (add_special_tokens) out.insert(out.end(), post_.before.begin(), post_.before.end());
  size_t pos = 0;
  while (pos < input.size()) {
    size_t begin = 0, end = 0;
    int32_t id = 0;
    if (!find_added(input, pos, begin, end, id)) {
      encode_segment(std::string(input.substr(pos)), pos == 0, out);
      break;
    }
    if (begin > pos) encode_segment(std::string(input.substr(pos, begin - pos)), pos == 0, out);
    out.push_back(id);
    pos = end;
  }
  if (add_special_tokens) out.insert(out.end(), post_.after.begin(), post_.after.end());
  return out;
}

void JsonTokenizer::encode_segment(std::string segment, bool at_text_start,
                                   std::vector<int32_t>& out) const {
  for (const auto& n : normalizers_) n.apply(segment);
  if (segment.empty()) return;
  if (pre_tokenizers_.empty()) {
    encode_word(segment, out);
    return;
  }
  std::vector<std::string> pieces;
  pieces.push_back(std::move(segment));
  for (const auto& p : pre_tokenizers_) p.apply(pieces, at_text_start);
  for (const auto& piece : pieces) encode_word(piece, out);
}

void JsonTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  std::vector<int32_t> symbols;
  if (byte_level_) {
    if (ignore_merges_) {
      std::string mapped;
      const ByteLevelTable& table = byte_level_table();
      for (char c : word) mapped += table.byte_to_char[static_cast<unsigned char>(c)];
      if (auto id = token_to_id(mapped)) {
        out.push_back(*id);
        return;
      }
    }
    symbols.reserve(word.size());
    for (char c : word) {
      int32_t id = byte_ids_[static_cast<unsigned char>(c)];
      if (id >= 0) {
        symbols.push_back(id);
      } else if (unk_id_) {
        if (!(fuse_unk_ && !symbols.empty() && symbols.back() == -1)) symbols.push_back(-1);
      }
    }
  } else {
    if (ignore_merges_) {
      if (auto id = token_to_id(word)) {
        out.push_back(*id);
        return;
      }
    }
    symbols.reserve(word.size());
    for (size_t pos = 0; pos < word.size();) {
      size_t start = pos;
      utf8::decode(word, pos);
      std::string_view ch = word.substr(start, pos - start);
      if (auto id = token_to_id(ch)) {
        symbols.push_back(*id);
        continue;
      }
      bool done = false;
      if (byte_fallback_) {
        bool all = true;
        for (char c : ch) all = all && fallback_ids_[static_cast<unsigned char>(c)] >= 0;
        if (all) {
          // Byte tokens never merge: mark them so the merge loop leaves them alone.
          for (char c : ch) symbols.push_back(-3 - fallback_ids_[static_cast<unsigned char>(c)]);
          done = true;
        }
      }
      if (!done && unk_id_) {
        if (!(fuse_unk_ && !symbols.empty() && symbols.back() == -1)) symbols.push_back(-1);
      }
    }
  }
  merges_.apply(symbols);
  for (int32_t s : symbols) {
    if (s >= 0) {
      out.push_back(s);
    } else if (s == -1) {
      out.push_back(*unk_id_);
    } else {
      out.push_back(-3 - s);
    }
  }
}

std::string JsonTokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) continue;
    if (skip_special_tokens && is_special_[id]) continue;
    if (id_to_token_[id].empty()) continue;
    tokens.push_back(id_to_token_[id]);
  }
  if (decoders_.empty()) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  for (const auto& d : decoders_) d.apply(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_json(std::string_view text, const std::string& label,
                                               const TokenizerConfig& config) {
  return std::make_unique<JsonTokenizer>(text, label, config);
}

}  // namespace assay::inference
