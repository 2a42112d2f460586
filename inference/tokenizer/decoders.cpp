#include "inference/tokenizer/decoders.h"

#include <cstdio>

#include "core/utf8.h"
#include "inference/tokenizer/bpe.h"
#include "inference/tokenizer/byte_level.h"
#include "inference/tokenizer/normalizers.h"
#include "inference/tokenizer_impl.h"

namespace assay::inference::hf {

namespace {

void byte_fallback(std::vector<std::string>& tokens) {
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
    int b = byte_piece_value(t);
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

}  // namespace

void Decoder::apply(std::vector<std::string>& tokens) const {
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

void Decoder::strip(std::string& t) const {
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

Decoder parse_decoder(const Reader& r, const json& node, const std::string& type,
                      const std::string& where) {
  using T = Decoder::Type;
  Decoder d;
  if (type == "Replace") {
    d.type = T::kReplace;
    auto [is_regex, pattern] = r.pattern(node, where);
    if (is_regex)
      r.fail(where + ".pattern", "a Regex pattern in a Replace decoder is not supported");
    d.a = pattern;
    d.b = r.string(node, "content", where);
  } else if (type == "ByteFallback" || type == "Fuse" || type == "ByteLevel") {  // no fields
    d.type = type == "ByteFallback" ? T::kByteFallback : type == "Fuse" ? T::kFuse : T::kByteLevel;
  } else if (type == "Strip") {
    d.type = T::kStrip;
    d.a = r.string(node, "content", where);
    if (d.a.empty()) r.fail(where + ".content", "must not be empty");
    int64_t start = r.integer(r.field(node, "start", where), where + ".start");
    int64_t stop = r.integer(r.field(node, "stop", where), where + ".stop");
    if (start < 0 || stop < 0) r.fail(where, "start and stop must not be negative");
    d.start = static_cast<size_t>(start);
    d.stop = static_cast<size_t>(stop);
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
  return d;
}

}  // namespace assay::inference::hf
