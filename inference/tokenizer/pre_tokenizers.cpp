#include "inference/tokenizer/pre_tokenizers.h"

#include <cctype>

#include "core/utf8.h"
#include "inference/tokenizer/byte_level.h"
#include "inference/tokenizer/normalizers.h"

namespace assay::inference::hf {

namespace {

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

void split_regex(const std::string& piece, const TokenizerRegex& re,
                 PreTokenizer::Behavior behavior, std::vector<std::pair<size_t, size_t>>& hits,
                 std::vector<std::string>& out) {
  hits.clear();
  re.find_all(piece, hits);
  size_t pos = 0;
  std::string pending;  // kMergedWithNext: a match waiting for the text after it
  for (auto [begin, end] : hits) {
    std::string_view gap(piece.data() + pos, begin - pos);
    std::string_view match(piece.data() + begin, end - begin);
    switch (behavior) {
      case PreTokenizer::Behavior::kIsolated:
        if (!gap.empty()) out.emplace_back(gap);
        out.emplace_back(match);
        break;
      case PreTokenizer::Behavior::kRemoved:
        if (!gap.empty()) out.emplace_back(gap);
        break;
      case PreTokenizer::Behavior::kMergedWithPrevious:
        if (!gap.empty()) {
          out.emplace_back(gap);
          out.back().append(match);
        } else if (!out.empty() && pos > 0) {
          out.back().append(match);
        } else {
          out.emplace_back(match);
        }
        break;
      case PreTokenizer::Behavior::kMergedWithNext:
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
  if (behavior == PreTokenizer::Behavior::kMergedWithNext) {
    pending.append(tail);
    if (!pending.empty()) out.push_back(std::move(pending));
  } else if (!tail.empty()) {
    out.emplace_back(tail);
  }
}

}  // namespace

void PreTokenizer::apply(std::vector<std::string>& pieces, bool first_piece_is_text_start) const {
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

PreTokenizer parse_pre_tokenizer(const Reader& r, const json& node, const std::string& type,
                                 const std::string& where) {
  using T = PreTokenizer::Type;
  using B = PreTokenizer::Behavior;
  PreTokenizer p;
  if (type == "Split") {
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
  return p;
}

}  // namespace assay::inference::hf
