// tokenizer.json's decoders (the Rust `tokenizers` library's decoders module): Replace,
// ByteFallback, Fuse, Strip, ByteLevel, Metaspace, and Sequence (flattened). Internal to
// inference/tokenizer/.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inference/tokenizer/reader.h"
#include "inference/tokenizer/regex.h"

namespace assay::inference::hf {

struct Decoder {
  enum class Type { kReplace, kByteFallback, kFuse, kStrip, kByteLevel, kMetaspace };
  Type type;
  std::string a, b;  // Replace a -> b; Strip: a = content; Metaspace: a = replacement
  size_t start = 0, stop = 0;
  bool strip_first_space = true;  // Metaspace

  void apply(std::vector<std::string>& tokens) const;

 private:
  void strip(
      std::string& t) const;  // Strip: a (content) start times from the front, stop from the back
};

// One node of the section whose "type" is `type` (neither null nor a "Sequence": parse_pipeline
// in reader.h takes those). Throws assay::Error naming the JSON path for an unsupported type or
// a malformed field.
Decoder parse_decoder(const Reader& r, const json& node, const std::string& type,
                      const std::string& where);

}  // namespace assay::inference::hf
