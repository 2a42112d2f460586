// Tokenizers: Hugging Face `tokenizer.json` (byte-level BPE as Llama-3 / Qwen / GPT-2 use it, and
// SentencePiece-style BPE as Mistral / Llama-2 ship it) and SentencePiece `tokenizer.model` (BPE),
// read natively; plus an incremental decoder for streaming. No torch here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace assay::inference {

enum class TokenizerKind {
  kByteLevelBpe,          // tokenizer.json, BPE over GPT-2 byte-level characters (Llama-3, Qwen)
  kSentencePieceBpeJson,  // tokenizer.json, BPE over characters with ▁ and byte fallback (Mistral)
  kSentencePieceModel,    // tokenizer.model, SentencePiece BPE protobuf (Llama-2, stories260K)
};

// "byte-level BPE (tokenizer.json)", ... for `inspect` and logs.
const char* tokenizer_kind_name(TokenizerKind kind);

// A loaded tokenizer. Immutable after load(): encode/decode are const and safe to call from many
// threads at once.
class Tokenizer {
 public:
  virtual ~Tokenizer();

  // Loads from a model folder (tokenizer.json preferred, else tokenizer.model;
  // tokenizer_config.json is read when present) or from a tokenizer.json / tokenizer.model file
  // path. Throws assay::Error: not found (no such path, or no tokenizer in the folder), invalid
  // input (a malformed file; the message names the file and what is wrong).
  static std::unique_ptr<Tokenizer> load(const std::filesystem::path& path);

  // Encodes UTF-8 text (invalid bytes are read as U+FFFD). `add_special_tokens` applies the
  // post-processor of tokenizer.json (e.g. Mistral's BOS; Llama-3 and Qwen add nothing) or, for
  // tokenizer.model, BOS (and EOS) per tokenizer_config.json add_bos_token / add_eos_token
  // (default: BOS only). Added-token text in the input (e.g. "<|im_end|>") becomes its id for
  // tokenizer.json whatever `add_special_tokens` says; SentencePiece never matches it. Throws
  // assay::Error (invalid input) only if a tokenizer.json regex exceeds PCRE2's match limits.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const = 0;

  // Decodes ids to UTF-8 text (invalid byte sequences become U+FFFD). Ids outside the vocabulary
  // are skipped (as Hugging Face tokenizers does; a model's embedding may be larger than the
  // vocabulary). tokenizer.model never shows <s>/</s>, skip or not (SentencePiece's decode).
  // `skip_special_tokens` drops tokens marked special (tokenizer.json: added tokens with "special":
  // true; tokenizer.model: control pieces, which SentencePiece always drops).
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const = 0;

  virtual TokenizerKind kind() const = 0;

  // Number of ids: 1 + the largest id of the vocabulary and the added tokens.
  size_t vocab_size() const { return id_to_token_.size(); }

  // BOS / EOS ids from tokenizer_config.json (bos_token, eos_token), else from the model
  // (tokenizer.model's trainer spec); empty when the tokenizer has none (Qwen has no BOS).
  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }

  // Special tokens (text, id), in id order: tokenizer.json added tokens marked special, or
  // tokenizer.model control and unknown pieces.
  std::vector<std::pair<std::string, int32_t>> special_tokens() const;

  // Vocabulary lookups on the token strings as stored in the file (byte-level characters like
  // "Ġ" or SentencePiece's "▁" included). id_to_token returns "" for an id outside the vocabulary.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;

  // True when `id` is a special token (see special_tokens()).
  bool is_special(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < is_special_.size() && is_special_[id];
  }

 protected:
  Tokenizer() = default;

  // Heterogeneous-lookup hash so maps keyed by std::string can be probed with a string_view.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

  // Open-addressing index from token text to id over id_to_token_ (a flat table: loading a
  // 128k-token vocabulary and 280k merges is dominated by these lookups).
  class TokenIndex {
   public:
    void reserve(size_t tokens);
    // Maps `text` (== tokens[id]) to id, replacing an earlier id for the same text.
    void insert(std::string_view text, int32_t id, const std::vector<std::string>& tokens);
    // Id of `text`, or -1. An id whose text was replaced since no longer matches.
    int32_t find(std::string_view text, const std::vector<std::string>& tokens) const;

   private:
    struct Slot {
      uint32_t hash = 0;
      int32_t id = -1;  // -1: empty
    };
    void grow(const std::vector<std::string>& tokens);
    std::vector<Slot> slots_;
    size_t used_ = 0;
  };

  // Sets token `id` (grows the tables); later calls for the same id replace the text.
  void set_token(int32_t id, std::string_view text, bool special);

  std::vector<std::string> id_to_token_;  // id -> token text ("" for a hole)
  std::vector<bool> is_special_;          // id -> special (skipped by skip_special_tokens)
  TokenIndex token_to_id_;                // token text -> id
  std::optional<int32_t> bos_id_;
  std::optional<int32_t> eos_id_;
};

// Streaming decode: push ids one at a time and get the text they add. Never emits half a UTF-8
// character: text that ends in an incomplete character (decoded as U+FFFD) is held back until
// the next id completes it or flush() is called. The concatenation of everything push() and
// flush() return equals tokenizer.decode(all ids, skip_special_tokens). Keeps a reference to the
// tokenizer, which must outlive it.
class IncrementalDecoder {
 public:
  IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special_tokens);

  // Adds one id; returns the text it completes (possibly empty).
  std::string push(int32_t id);
  // Returns whatever is held back (an incomplete character comes out as U+FFFD) and resets.
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  std::vector<int32_t> ids_;  // ids from prefix_offset_ on (a window of the stream)
  size_t read_offset_ = 0;    // ids_[0, read_offset_) were already emitted as text
};

// Encodes a prompt for generation: as encode(text, true), except that when `text` starts with the
// BOS token's text (a chat template wrote it) that text is not encoded on top of the BOS the
// tokenizer adds: the ids then hold exactly one BOS, first (the double-BOS bug of chat prompts).
std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view text);

}  // namespace assay::inference
