// SentencePiece tokenizer.model: a hand-written reader for the ModelProto wire format (pieces,
// trainer spec, normalizer spec) and BPE encode/decode with SentencePiece 0.1.x semantics
// (identity normalization, dummy prefix, whitespace collapsing, merge by piece score, byte
// fallback). libsentencepiece is not linked: it cannot share a process with libtorch.
#include <algorithm>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/utf8.h"
#include "inference/tokenizer/bpe.h"
#include "inference/tokenizer_impl.h"

namespace assay::inference {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 ▁

// ---- protobuf wire format -------------------------------------------------------------------

class ProtoReader {
 public:
  ProtoReader(std::string_view data, const std::string& label, std::string where)
      : data_(data), label_(label), where_(std::move(where)) {}

  bool done() const { return pos_ >= data_.size(); }

  // Reads the next field key; returns false at the end of the message.
  bool next(uint32_t& field, uint32_t& wire_type) {
    if (done()) return false;
    uint64_t key = varint();
    field = static_cast<uint32_t>(key >> 3);
    wire_type = static_cast<uint32_t>(key & 7);
    if (field == 0) fail("field number 0");
    return true;
  }
  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) fail("truncated varint");
      auto byte = static_cast<unsigned char>(data_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    fail("varint longer than 10 bytes");
  }
  std::string_view bytes() {
    uint64_t length = varint();
    if (length > data_.size() - pos_) {
      fail("length-delimited field of " + std::to_string(length) + " bytes runs past the end (" +
           std::to_string(data_.size() - pos_) + " bytes left)");
    }
    std::string_view out = data_.substr(pos_, length);
    pos_ += length;
    return out;
  }
  float fixed32_float() {
    if (data_.size() - pos_ < 4) fail("truncated 32-bit field");
    uint32_t bits = 0;
    for (int i = 0; i < 4; ++i)
      bits |= static_cast<uint32_t>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    pos_ += 4;
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0:
        varint();
        break;
      case 1:
        if (data_.size() - pos_ < 8) fail("truncated 64-bit field");
        pos_ += 8;
        break;
      case 2:
        bytes();
        break;
      case 5:
        if (data_.size() - pos_ < 4) fail("truncated 32-bit field");
        pos_ += 4;
        break;
      default:
        fail("unsupported wire type " + std::to_string(wire_type));
    }
  }
  void expect(uint32_t wire_type, uint32_t expected, const char* field) {
    if (wire_type != expected) {
      fail(std::string("field '") + field + "' has wire type " + std::to_string(wire_type) +
           ", expected " + std::to_string(expected));
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw_invalid(label_ + ": corrupt SentencePiece model (" + where_ + " at byte " +
                  std::to_string(pos_) + "): " + what);
  }

 private:
  std::string_view data_;
  const std::string& label_;
  std::string where_;
  size_t pos_ = 0;
};

enum PieceType {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

struct Piece {
  std::string text;
  float score = 0;
  int type = kNormal;
};

struct ModelProto {
  std::vector<Piece> pieces;
  int model_type = 1;  // UNIGRAM unless the trainer spec says otherwise
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  int64_t bos_id = 1, eos_id = 2;
  std::string unk_surface = " \xE2\x81\x87 ";
  std::string normalizer_name;
  bool has_charsmap = false;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

ModelProto parse_model_proto(std::string_view bytes, const std::string& label) {
  ModelProto model;
  ProtoReader top(bytes, label, "ModelProto");
  uint32_t field = 0, wire = 0;
  while (top.next(field, wire)) {
    if (field == 1) {
      top.expect(wire, 2, "pieces");
      std::string where = "pieces[" + std::to_string(model.pieces.size()) + "]";
      ProtoReader r(top.bytes(), label, where);
      Piece piece;
      while (r.next(field, wire)) {
        if (field == 1) {
          r.expect(wire, 2, "piece");
          piece.text = std::string(r.bytes());
        } else if (field == 2) {
          r.expect(wire, 5, "score");
          piece.score = r.fixed32_float();
        } else if (field == 3) {
          r.expect(wire, 0, "type");
          piece.type = static_cast<int>(r.varint());
        } else {
          r.skip(wire);
        }
      }
      model.pieces.push_back(std::move(piece));
    } else if (field == 2) {
      top.expect(wire, 2, "trainer_spec");
      ProtoReader r(top.bytes(), label, "trainer_spec");
      while (r.next(field, wire)) {
        switch (field) {
          case 3:
            r.expect(wire, 0, "model_type");
            model.model_type = static_cast<int>(r.varint());
            break;
          case 24:
            r.expect(wire, 0, "treat_whitespace_as_suffix");
            model.treat_whitespace_as_suffix = r.varint() != 0;
            break;
          case 35:
            r.expect(wire, 0, "byte_fallback");
            model.byte_fallback = r.varint() != 0;
            break;
          case 41:
            r.expect(wire, 0, "bos_id");
            model.bos_id = static_cast<int32_t>(r.varint());
            break;
          case 42:
            r.expect(wire, 0, "eos_id");
            model.eos_id = static_cast<int32_t>(r.varint());
            break;
          case 44:
            r.expect(wire, 2, "unk_surface");
            model.unk_surface = std::string(r.bytes());
            break;
          default:
            r.skip(wire);
        }
      }
    } else if (field == 3) {
      top.expect(wire, 2, "normalizer_spec");
      ProtoReader r(top.bytes(), label, "normalizer_spec");
      while (r.next(field, wire)) {
        switch (field) {
          case 1:
            r.expect(wire, 2, "name");
            model.normalizer_name = std::string(r.bytes());
            break;
          case 2:
            r.expect(wire, 2, "precompiled_charsmap");
            model.has_charsmap = !r.bytes().empty();
            break;
          case 3:
            r.expect(wire, 0, "add_dummy_prefix");
            model.add_dummy_prefix = r.varint() != 0;
            break;
          case 4:
            r.expect(wire, 0, "remove_extra_whitespaces");
            model.remove_extra_whitespaces = r.varint() != 0;
            break;
          case 5:
            r.expect(wire, 0, "escape_whitespaces");
            model.escape_whitespaces = r.varint() != 0;
            break;
          default:
            r.skip(wire);
        }
      }
    } else {
      top.skip(wire);
    }
  }
  return model;
}

// ---- the tokenizer --------------------------------------------------------------------------

class SentencePieceTokenizer final : public Tokenizer {
 public:
  SentencePieceTokenizer(std::string_view bytes, const std::string& label,
                         const TokenizerConfig& config);

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const override;
  TokenizerKind kind() const override { return TokenizerKind::kSentencePieceModel; }

 private:
  std::string normalize(std::string_view text) const;

  std::vector<int> types_;  // id -> PieceType
  TokenMap mergeable_;      // NORMAL / USER_DEFINED / UNUSED pieces: what BPE may produce
  std::vector<std::string> user_defined_;  // matched whole before BPE, longest first
  BpeMerges merges_;
  std::array<int32_t, 256> byte_ids_{};
  std::vector<uint8_t> byte_values_;  // id -> byte value of a <0xXX> piece
  int32_t unk_id_ = 0;
  bool byte_fallback_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool escape_whitespaces_ = true;
  bool add_bos_ = true;
  bool add_eos_ = false;
  std::string unk_surface_;
};

SentencePieceTokenizer::SentencePieceTokenizer(std::string_view bytes, const std::string& label,
                                               const TokenizerConfig& config) {
  ModelProto model = parse_model_proto(bytes, label);
  auto fail = [&](const std::string& what) { throw_invalid(label + ": " + what); };
  if (model.pieces.empty()) fail("no pieces: not a SentencePiece model (or an empty one)");
  if (model.model_type != 2) {
    fail("SentencePiece model_type " + std::to_string(model.model_type) +
         " is not supported (only BPE = 2; 1 is unigram)");
  }
  if (model.has_charsmap) {
    fail("normalizer '" + model.normalizer_name +
         "' with a precompiled character map is not supported (only identity)");
  }
  if (model.treat_whitespace_as_suffix) fail("treat_whitespace_as_suffix is not supported");

  byte_ids_.fill(-1);
  bool has_unk = false;
  token_to_id_.reserve(model.pieces.size());
  for (size_t id = 0; id < model.pieces.size(); ++id) {
    const Piece& p = model.pieces[id];
    std::string where = "pieces[" + std::to_string(id) + "]";
    if (p.text.empty()) fail(where + ": empty piece");
    if (!utf8::is_valid(p.text)) fail(where + ": piece is not valid UTF-8");
    if (p.type < kNormal || p.type > kByte)
      fail(where + ": unknown piece type " + std::to_string(p.type));
    if (token_to_id(p.text)) fail(where + ": piece '" + p.text + "' is defined twice");
    set_token(static_cast<int32_t>(id), p.text, p.type == kControl || p.type == kUnknown);
    types_.push_back(p.type);
    if (p.type == kUnknown) {
      if (has_unk) fail(where + ": a second unknown piece");
      has_unk = true;
      unk_id_ = static_cast<int32_t>(id);
    } else if (p.type == kByte) {
      int value = byte_piece_value(p.text);
      if (value < 0) fail(where + ": byte piece '" + p.text + "' is not of the form <0xXX>");
      byte_ids_[value] = static_cast<int32_t>(id);
      byte_values_.resize(model.pieces.size());
      byte_values_[id] = static_cast<uint8_t>(value);
    } else if (p.type != kControl) {
      mergeable_.emplace(p.text, static_cast<int32_t>(id));
      if (p.type == kUserDefined) user_defined_.push_back(p.text);
    }
  }
  if (!has_unk) fail("no unknown piece (type UNKNOWN) is defined");
  std::sort(user_defined_.begin(), user_defined_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });

  // BPE by score: (left, right) merges into the piece left+right; higher scores merge first.
  std::vector<float> scores;
  for (const auto& [text, id] : mergeable_) scores.push_back(model.pieces[id].score);
  std::sort(scores.begin(), scores.end(), std::greater<>());
  scores.erase(std::unique(scores.begin(), scores.end()), scores.end());
  for (const auto& [text, id] : mergeable_) {
    if (model.pieces[id].type == kUnused) continue;
    int32_t rank = static_cast<int32_t>(
        std::lower_bound(scores.begin(), scores.end(), model.pieces[id].score, std::greater<>()) -
        scores.begin());
    std::string_view s(text);
    for (size_t split = 1; split < s.size(); ++split) {
      if ((static_cast<unsigned char>(s[split]) & 0xC0) == 0x80) continue;  // inside a character
      auto left = mergeable_.find(s.substr(0, split));
      if (left == mergeable_.end()) continue;
      auto right = mergeable_.find(s.substr(split));
      if (right == mergeable_.end()) continue;
      merges_.add(left->second, right->second, rank, id);
    }
  }

  if (!utf8::is_valid(model.unk_surface)) fail("trainer_spec.unk_surface is not valid UTF-8");
  byte_fallback_ = model.byte_fallback;
  add_dummy_prefix_ = model.add_dummy_prefix;
  remove_extra_whitespaces_ = model.remove_extra_whitespaces;
  escape_whitespaces_ = model.escape_whitespaces;
  unk_surface_ = model.unk_surface;
  add_bos_ = config.add_bos_token.value_or(true);
  add_eos_ = config.add_eos_token.value_or(false);

  auto resolve = [&](const std::optional<std::string>& token, int64_t spec_id,
                     const char* name) -> std::optional<int32_t> {
    if (token && !token->empty()) {
      auto id = token_to_id(*token);
      if (!id)
        fail(std::string("tokenizer_config.json ") + name + " '" + *token +
             "' is not a piece of this model");
      return id;
    }
    if (spec_id >= 0 && static_cast<size_t>(spec_id) < model.pieces.size()) {
      return static_cast<int32_t>(spec_id);
    }
    return std::nullopt;
  };
  bos_id_ = resolve(config.bos_token, model.bos_id, "bos_token");
  eos_id_ = resolve(config.eos_token, model.eos_id, "eos_token");
}

// SentencePiece's Normalizer::Normalize for an identity rule: optional dummy prefix, whitespace
// collapsing and trimming, spaces escaped as U+2581.
std::string SentencePieceTokenizer::normalize(std::string_view input) const {
  std::string out;
  size_t pos = 0;
  if (remove_extra_whitespaces_) {
    while (pos < input.size() && input[pos] == ' ') ++pos;
  }
  if (pos >= input.size()) return out;
  out.reserve(input.size() + input.size() / 2 + 3);
  auto space = [&] {
    if (escape_whitespaces_) {
      out.append(kSpace);
    } else {
      out.push_back(' ');
    }
  };
  if (add_dummy_prefix_) space();
  bool prev_space = remove_extra_whitespaces_;
  for (; pos < input.size(); ++pos) {
    char c = input[pos];
    if (c == ' ') {
      if (!prev_space) space();
      prev_space = remove_extra_whitespaces_;
    } else {
      out.push_back(c);
      prev_space = false;
    }
  }
  if (remove_extra_whitespaces_) {
    std::string_view suffix = escape_whitespaces_ ? kSpace : std::string_view(" ");
    while (out.size() >= suffix.size() &&
           out.compare(out.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.resize(out.size() - suffix.size());
    }
  }
  return out;
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text,
                                                    bool add_special_tokens) const {
  // SentencePiece reads each malformed byte as U+FFFD.
  std::string repaired;
  if (!utf8::is_valid(text)) {
    for (size_t pos = 0; pos < text.size();) utf8::append(repaired, utf8::decode(text, pos));
    text = repaired;
  }
  std::string normalized = normalize(text);

  // Symbols: ids of known pieces; unknown characters as -(3 + byte offset) so the byte
  // fallback below can find their bytes. Negative symbols never merge.
  std::vector<int32_t> symbols;
  symbols.reserve(normalized.size());
  std::string_view s(normalized);
  for (size_t pos = 0; pos < s.size();) {
    bool matched = false;
    for (const auto& u : user_defined_) {
      if (s.compare(pos, u.size(), u) == 0) {
        symbols.push_back(mergeable_.find(u)->second);
        pos += u.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    size_t start = pos;
    utf8::decode(s, pos);
    auto it = mergeable_.find(s.substr(start, pos - start));
    symbols.push_back(it != mergeable_.end() ? it->second : -3 - static_cast<int32_t>(start));
  }
  merges_.apply(symbols);

  std::vector<int32_t> out;
  out.reserve(symbols.size() + 2);
  if (add_special_tokens && add_bos_ && bos_id_) out.push_back(*bos_id_);
  for (int32_t sym : symbols) {
    if (sym >= 0) {
      out.push_back(sym);
      continue;
    }
    size_t start = static_cast<size_t>(-3 - sym);
    size_t end = start;
    utf8::decode(s, end);
    bool all_bytes = byte_fallback_;
    for (size_t i = start; all_bytes && i < end; ++i) {
      all_bytes = byte_ids_[static_cast<unsigned char>(s[i])] >= 0;
    }
    if (all_bytes) {
      for (size_t i = start; i < end; ++i)
        out.push_back(byte_ids_[static_cast<unsigned char>(s[i])]);
    } else {
      out.push_back(unk_id_);
    }
  }
  if (add_special_tokens && add_eos_ && eos_id_) out.push_back(*eos_id_);
  return out;
}

std::string SentencePieceTokenizer::decode(std::span<const int32_t> ids,
                                           bool skip_special_tokens) const {
  std::string out;
  std::string bytes;
  auto flush_bytes = [&] {
    // SentencePiece: each structurally invalid byte becomes one U+FFFD.
    for (size_t pos = 0; pos < bytes.size();) utf8::append(out, utf8::decode(bytes, pos));
    bytes.clear();
  };
  // SentencePiece drops the dummy-prefix "▁" of the first visible piece: it stops looking once
  // text was produced or once one "▁" was consumed (with remove_extra_whitespaces it keeps
  // stripping until text appears).
  const bool strip_first = add_dummy_prefix_ || remove_extra_whitespaces_;
  bool is_bos_ws = true;
  bool bos_ws_seen = false;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= types_.size()) continue;
    int type = types_[id];
    if (type == kByte) {
      bytes.push_back(static_cast<char>(byte_values_[id]));
      continue;
    }
    flush_bytes();
    if (bos_ws_seen || !out.empty()) is_bos_ws = false;
    bos_ws_seen = false;
    if (type == kControl) continue;  // <s>, </s>: SentencePiece never shows them
    if (type == kUnknown) {
      if (!skip_special_tokens) out += unk_surface_;
      continue;
    }
    std::string_view piece = id_to_token_[id];
    if (is_bos_ws && strip_first && piece.substr(0, kSpace.size()) == kSpace) {
      piece.remove_prefix(kSpace.size());
      bos_ws_seen = !remove_extra_whitespaces_;
    }
    for (size_t pos = 0; pos < piece.size();) {
      if (piece.compare(pos, kSpace.size(), kSpace) == 0) {
        out.push_back(' ');
        pos += kSpace.size();
      } else {
        out.push_back(piece[pos++]);
      }
    }
  }
  flush_bytes();
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_model(std::string_view bytes,
                                                    const std::string& label,
                                                    const TokenizerConfig& config) {
  return std::make_unique<SentencePieceTokenizer>(bytes, label, config);
}

}  // namespace assay::inference
