// Hugging Face tokenizer.json: the added-token split and the BPE model, with the normalizers,
// pre-tokenizers, post-processor and decoders of their own files around them, following the
// Rust `tokenizers` library's semantics.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "core/error.h"
#include "core/utf8.h"
#include "inference/tokenizer/bpe.h"
#include "inference/tokenizer/byte_level.h"
#include "inference/tokenizer/decoders.h"
#include "inference/tokenizer/json_sax.h"
#include "inference/tokenizer/normalizers.h"
#include "inference/tokenizer/post_processor.h"
#include "inference/tokenizer/pre_tokenizers.h"
#include "inference/tokenizer/reader.h"
#include "inference/tokenizer_impl.h"

namespace assay::inference {

namespace {

using namespace hf;  // NOLINT: the pipeline's parts, internal to inference/tokenizer/

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false;
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
  void parse_model(const Reader& r, const json& model, const ParsedTokenizerJson& parsed);
  void parse_added_tokens(const Reader& r, const json& list);

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
  ParsedTokenizerJson parsed = parse_tokenizer_json(text, label);
  const json& root = parsed.root;
  if (!root.is_object()) throw_invalid(label + ": must be a JSON object");
  try {
    parse_model(r, r.object(root, "model", "tokenizer"), parsed);
    if (auto it = root.find("added_tokens"); it != root.end() && !it->is_null()) {
      if (!it->is_array()) r.fail("added_tokens", "must be an array");
      parse_added_tokens(r, *it);
    }
    auto section = [&](const char* key) -> const json& {
      static const json null_node;
      auto it = root.find(key);
      return it == root.end() ? null_node : *it;
    };
    parse_pipeline(r, section("normalizer"), "normalizers", "normalizer", normalizers_,
                   parse_normalizer);
    parse_pipeline(r, section("pre_tokenizer"), "pretokenizers", "pre_tokenizer", pre_tokenizers_,
                   parse_pre_tokenizer);
    for (size_t i = 0; i < pre_tokenizers_.size(); ++i) {
      if (pre_tokenizers_[i].type == PreTokenizer::Type::kByteLevel) {
        if (i + 1 != pre_tokenizers_.size()) {
          r.fail("pre_tokenizer", "a ByteLevel pre-tokenizer must come last");
        }
        byte_level_ = true;
      }
    }
    parse_post_processor(
        r, section("post_processor"), "post_processor",
        [this](const std::string& name) { return token_to_id(name); }, post_);
    parse_pipeline(r, section("decoder"), "decoders", "decoder", decoders_, parse_decoder);
  } catch (const json::exception& e) {
    throw_invalid(label + ": " + e.what());
  }

  for (const auto* ids : {&post_.before, &post_.after}) {
    for (int32_t id : *ids) {
      if (static_cast<size_t>(id) >= id_to_token_.size() || id_to_token_[id].empty()) {
        r.fail("post_processor",
               "special token id " + std::to_string(id) + " is not in the vocabulary");
      }
    }
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

void JsonTokenizer::parse_model(const Reader& r, const json& model,
                                const ParsedTokenizerJson& parsed) {
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

  if (!parsed.has_vocab) r.object(model, "vocab", "model");  // fails: missing or not an object
  if (!parsed.vocab_error.empty()) throw_invalid(r.label() + ": " + parsed.vocab_error);
  token_to_id_.reserve(parsed.vocab.size() + 1024);
  for (const auto& [token, id] : parsed.vocab) {
    if (id >= kMaxId)
      r.fail("model.vocab['" + token + "']", "id " + std::to_string(id) + " is out of range");
    set_token(static_cast<int32_t>(id), token, false);
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

  if (!parsed.has_merges) r.array(model, "merges", "model");  // fails: missing or not an array
  if (!parsed.merge_error.empty()) throw_invalid(r.label() + ": " + parsed.merge_error);
  merges_.reserve(parsed.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < parsed.merges.size(); ++rank) {
    const auto& [left, right] = parsed.merges[rank];
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
