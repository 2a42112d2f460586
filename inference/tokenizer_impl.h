// Internals shared by the tokenizer implementations (tokenizer/tokenizer_json.cpp and
// tokenizer/sentencepiece_model.cpp),
// the tests and the fuzz targets. Not for use outside inference/ and tests/.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "inference/tokenizer.h"

namespace assay::inference {

// What tokenizer_config.json says that the tokenizer files do not.
struct TokenizerConfig {
  std::optional<std::string> bos_token;  // "bos_token" (string or {"content": ...}); empty: none
  std::optional<std::string> eos_token;  // "eos_token"
  std::optional<bool> add_bos_token;     // "add_bos_token" (tokenizer.model only; default true)
  std::optional<bool> add_eos_token;     // "add_eos_token" (tokenizer.model only; default false)
};

// Parses tokenizer_config.json text. Throws assay::Error (invalid input) naming `label`.
TokenizerConfig parse_tokenizer_config(std::string_view text, const std::string& label);

// Builds a tokenizer from tokenizer.json text. `label` names the file in messages. Throws
// assay::Error (invalid input) for anything malformed or unsupported.
std::unique_ptr<Tokenizer> load_tokenizer_json(std::string_view text, const std::string& label,
                                               const TokenizerConfig& config);

// Builds a tokenizer from the bytes of a SentencePiece tokenizer.model (ModelProto). Throws
// assay::Error (invalid input) for a truncated or corrupt protobuf or an unsupported model.
std::unique_ptr<Tokenizer> load_sentencepiece_model(std::string_view bytes,
                                                    const std::string& label,
                                                    const TokenizerConfig& config);

// Bytes to UTF-8 the way Rust's String::from_utf8_lossy does: each maximal invalid subpart
// becomes one U+FFFD.
std::string utf8_lossy(std::string_view bytes);

// Appends `text` to `out` with invalid UTF-8 replaced (utf8_lossy), fast when already valid.
void append_valid_utf8(std::string& out, std::string_view text);

}  // namespace assay::inference
