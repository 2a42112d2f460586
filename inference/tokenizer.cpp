// Tokenizer::load (which file, which format), the shared vocabulary tables, UTF-8 repair and the
// incremental decoder.
#include "inference/tokenizer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "inference/tokenizer_impl.h"

namespace assay::inference {

namespace fs = std::filesystem;

const char* tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::kByteLevelBpe:
      return "byte-level BPE (tokenizer.json)";
    case TokenizerKind::kSentencePieceBpeJson:
      return "SentencePiece-style BPE (tokenizer.json)";
    case TokenizerKind::kSentencePieceModel:
      return "SentencePiece BPE (tokenizer.model)";
  }
  return "unknown";
}

Tokenizer::~Tokenizer() = default;

void Tokenizer::set_token(int32_t id, std::string_view text, bool special) {
  ASSAY_CHECK(id >= 0);
  if (static_cast<size_t>(id) >= id_to_token_.size()) {
    id_to_token_.resize(id + 1);
    is_special_.resize(id + 1, false);
  }
  id_to_token_[id] = std::string(text);
  is_special_[id] = special;
  token_to_id_.insert(id_to_token_[id], id, id_to_token_);
}

std::vector<std::pair<std::string, int32_t>> Tokenizer::special_tokens() const {
  std::vector<std::pair<std::string, int32_t>> out;
  for (size_t id = 0; id < is_special_.size(); ++id) {
    if (is_special_[id]) out.emplace_back(id_to_token_[id], static_cast<int32_t>(id));
  }
  return out;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  int32_t id = token_to_id_.find(token, id_to_token_);
  if (id < 0) return std::nullopt;
  return id;
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return {};
  return id_to_token_[id];
}

namespace {

uint32_t hash_token(std::string_view s) {
  // FNV-1a: tokens are short; this is cheaper than a general-purpose string hash.
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}

}  // namespace

void Tokenizer::TokenIndex::reserve(size_t tokens) {
  size_t want = 16;
  while (want < tokens * 2) want *= 2;
  if (want <= slots_.size()) return;
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(want, Slot{});
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    size_t mask = slots_.size() - 1;
    for (size_t i = s.hash & mask;; i = (i + 1) & mask) {
      if (slots_[i].id < 0) {
        slots_[i] = s;
        break;
      }
    }
  }
}

void Tokenizer::TokenIndex::grow(const std::vector<std::string>& tokens) {
  reserve(std::max<size_t>(used_ + 1, slots_.size()));
}

void Tokenizer::TokenIndex::insert(std::string_view text, int32_t id,
                                   const std::vector<std::string>& tokens) {
  if ((used_ + 1) * 2 > slots_.size()) grow(tokens);
  uint32_t hash = hash_token(text);
  size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.id < 0) {
      slot = Slot{hash, id};
      ++used_;
      return;
    }
    if (slot.hash == hash && static_cast<size_t>(slot.id) < tokens.size() &&
        tokens[slot.id] == text && slot.id != id) {
      slot.id = id;  // same text, new id: the later one wins
      return;
    }
    if (slot.id == id && slot.hash == hash) return;
  }
}

int32_t Tokenizer::TokenIndex::find(std::string_view text,
                                    const std::vector<std::string>& tokens) const {
  if (slots_.empty()) return -1;
  uint32_t hash = hash_token(text);
  size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.id < 0) return -1;
    if (slot.hash == hash && tokens[slot.id] == text) return slot.id;
  }
}

namespace {

std::optional<std::string> token_field(const nlohmann::json& config, const char* key,
                                       const std::string& label) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  throw_invalid(label + ": field '" + key + "' must be a string or an object with 'content'");
}

std::optional<bool> bool_field(const nlohmann::json& config, const char* key,
                               const std::string& label) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw_invalid(label + ": field '" + key + "' must be true or false");
  return it->get<bool>();
}

}  // namespace

TokenizerConfig parse_tokenizer_config(std::string_view text, const std::string& label) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw_invalid(label + ": not valid JSON: " + e.what());
  }
  if (!config.is_object()) throw_invalid(label + ": must be a JSON object");
  TokenizerConfig out;
  out.bos_token = token_field(config, "bos_token", label);
  out.eos_token = token_field(config, "eos_token", label);
  out.add_bos_token = bool_field(config, "add_bos_token", label);
  out.add_eos_token = bool_field(config, "add_eos_token", label);
  return out;
}

std::unique_ptr<Tokenizer> Tokenizer::load(const fs::path& path) {
  std::error_code ec;
  fs::path folder;
  fs::path file;
  if (fs::is_directory(path, ec)) {
    folder = path;
    if (fs::exists(path / "tokenizer.json", ec)) {
      file = path / "tokenizer.json";
    } else if (fs::exists(path / "tokenizer.model", ec)) {
      file = path / "tokenizer.model";
    } else {
      throw_not_found(path.string() + ": no tokenizer.json or tokenizer.model in this folder");
    }
  } else if (fs::exists(path, ec)) {
    file = path;
    folder = path.parent_path();
  } else {
    throw_not_found(path.string() + ": no such tokenizer file or folder");
  }

  TokenizerConfig config;
  fs::path config_path =
      folder.empty() ? fs::path("tokenizer_config.json") : folder / "tokenizer_config.json";
  if (fs::is_regular_file(config_path, ec)) {
    config = parse_tokenizer_config(read_file(config_path), config_path.string());
  }

  std::string bytes = read_file(file);
  if (file.extension() == ".model") return load_sentencepiece_model(bytes, file.string(), config);
  if (file.extension() == ".json") return load_tokenizer_json(bytes, file.string(), config);
  throw_invalid(file.string() +
                ": not a tokenizer file (expected tokenizer.json or tokenizer.model)");
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  append_valid_utf8(out, bytes);
  return out;
}

void append_valid_utf8(std::string& out, std::string_view s) {
  static constexpr char kFffd[] = "\xEF\xBF\xBD";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  size_t run_start = 0;
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b == 0xE0) {
      len = 3, lo = 0xA0;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      len = 3;
    } else if (b == 0xED) {
      len = 3, hi = 0x9F;
    } else if (b == 0xF0) {
      len = 4, lo = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3) {
      len = 4;
    } else if (b == 0xF4) {
      len = 4, hi = 0x8F;
    }
    size_t good = 0;  // bytes of a valid prefix, including the lead byte
    if (len > 0) {
      good = 1;
      if (i + 1 < n && p[i + 1] >= lo && p[i + 1] <= hi) {
        good = 2;
        while (good < len && i + good < n && p[i + good] >= 0x80 && p[i + good] <= 0xBF) ++good;
      }
    }
    if (len > 0 && good == len) {
      i += len;
      continue;
    }
    out.append(s.substr(run_start, i - run_start));
    out.append(kFffd, 3);
    i += good > 0 ? good : 1;
    run_start = i;
  }
  out.append(s.substr(run_start));
}

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {}

namespace {

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

// The text `full` adds after `prefix` (both decodes of the same window).
std::string added_text(const std::string& full, const std::string& prefix) {
  if (full.size() <= prefix.size()) return {};
  return full.substr(prefix.size());
}

}  // namespace

std::string IncrementalDecoder::push(int32_t id) {
  ids_.push_back(id);
  std::span<const int32_t> all(ids_);
  std::string prefix = tokenizer_.decode(all.first(read_offset_), skip_special_tokens_);
  std::string full = tokenizer_.decode(all, skip_special_tokens_);
  if (full.size() <= prefix.size() || ends_with_replacement(full)) return {};
  std::string out = added_text(full, prefix);
  // Slide the window to the ids just emitted, but only when they decode to visible text on their
  // own: decoders treat the first visible token specially (SentencePiece and Mistral's Strip drop
  // its leading space), so the window must start with one that already showed.
  std::span<const int32_t> rest = all.subspan(read_offset_);
  if (!tokenizer_.decode(rest, skip_special_tokens_).empty()) {
    ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(read_offset_));
  }
  read_offset_ = ids_.size();
  return out;
}

std::string IncrementalDecoder::flush() {
  std::span<const int32_t> all(ids_);
  std::string prefix = tokenizer_.decode(all.first(read_offset_), skip_special_tokens_);
  std::string full = tokenizer_.decode(all, skip_special_tokens_);
  ids_.clear();
  read_offset_ = 0;
  return added_text(full, prefix);
}

std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view text) {
  std::optional<int32_t> bos = tokenizer.bos_id();
  const std::string bos_text = bos ? tokenizer.id_to_token(*bos) : std::string();
  if (bos_text.empty() || text.substr(0, bos_text.size()) != bos_text) return tokenizer.encode(text, true);
  std::vector<int32_t> ids = tokenizer.encode(text.substr(bos_text.size()), true);
  if (ids.empty() || ids.front() != *bos) ids.insert(ids.begin(), *bos);  // a tokenizer adding none
  return ids;
}

}  // namespace assay::inference
