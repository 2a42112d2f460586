#include "inference/tokenizer/json_sax.h"

#include "core/error.h"

namespace assay::inference::hf {

namespace {

class TokenizerJsonSax {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  explicit TokenizerJsonSax(ParsedTokenizerJson& out) : out_(out), dom_(out.root) {}

  bool null() {
    return scalar([&] { return dom_.null(); }, ParsedTokenizerJson::kNotAnInteger);
  }
  bool boolean(bool v) {
    return scalar([&] { return dom_.boolean(v); }, ParsedTokenizerJson::kNotAnInteger);
  }
  bool number_integer(number_integer_t v) {
    return scalar([&] { return dom_.number_integer(v); },
                  v < 0 ? ParsedTokenizerJson::kNotAnInteger - 1 : v);
  }
  bool number_unsigned(number_unsigned_t v) {
    return scalar([&] { return dom_.number_unsigned(v); },
                  v > static_cast<number_unsigned_t>(INT64_MAX / 2) ? INT64_MAX / 2
                                                                    : static_cast<int64_t>(v));
  }
  bool number_float(number_float_t v, const string_t& s) {
    return scalar([&] { return dom_.number_float(v, s); }, ParsedTokenizerJson::kNotAnInteger);
  }
  bool string(string_t& v) {
    if (mode_ == Mode::kMerges) {
      if (depth_in_mode_ == 0) {
        size_t space = v.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 >= v.size()) {
          merge_fail("'" + v + "' is not two tokens separated by a space");
        }
        out_.merges.emplace_back(space == std::string::npos ? v : v.substr(0, space),
                                 space == std::string::npos ? std::string() : v.substr(space + 1));
        ++merge_index_;
      } else {
        pair_.push_back(std::move(v));
      }
      return true;
    }
    return scalar([&] { return dom_.string(v); }, ParsedTokenizerJson::kNotAnInteger);
  }
  bool binary(binary_t& v) { return dom_.binary(v); }

  bool start_object(std::size_t n) {
    if (mode_ != Mode::kDom) return nested_start(true);
    bool vocab = at_model_field("vocab");
    path_.push_back({true, {}});
    if (vocab) {
      mode_ = Mode::kVocab;
      depth_in_mode_ = 0;
      out_.has_vocab = true;
    }
    return dom_.start_object(vocab ? 0 : n);
  }
  bool end_object() {
    if (mode_ != Mode::kDom && depth_in_mode_ > 0) return nested_end();
    mode_ = Mode::kDom;
    path_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    if (mode_ == Mode::kMerges && depth_in_mode_ == 0) {
      ++depth_in_mode_;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::kDom) return nested_start(false);
    bool merges = at_model_field("merges");
    path_.push_back({false, {}});
    if (merges) {
      mode_ = Mode::kMerges;
      depth_in_mode_ = 0;
      out_.has_merges = true;
    }
    return dom_.start_array(merges ? 0 : n);
  }
  bool end_array() {
    if (mode_ == Mode::kMerges && depth_in_mode_ == 1) {
      --depth_in_mode_;
      if (pair_.size() == 2 && !pair_bad_) {
        out_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      } else {
        merge_fail("must be \"a b\" or [\"a\", \"b\"]");
        out_.merges.emplace_back();
      }
      pair_bad_ = false;
      ++merge_index_;
      return true;
    }
    if (mode_ != Mode::kDom && depth_in_mode_ > 0) return nested_end();
    mode_ = Mode::kDom;
    path_.pop_back();
    return dom_.end_array();
  }
  bool key(string_t& k) {
    if (mode_ == Mode::kVocab && depth_in_mode_ == 0) {
      vocab_key_ = std::move(k);
      return true;
    }
    if (mode_ != Mode::kDom) return true;
    path_.back().key = k;
    return dom_.key(k);
  }
  bool parse_error(std::size_t position, const std::string& token,
                   const nlohmann::detail::exception& e) {
    throw_invalid(label_ + ": not valid JSON: " + e.what());
  }
  std::string label_;

 private:
  enum class Mode { kDom, kVocab, kMerges };
  struct Level {
    bool is_object;
    std::string key;
  };

  bool at_model_field(const char* field) const {
    return path_.size() == 2 && path_[0].is_object && path_[0].key == "model" &&
           path_[1].is_object && path_[1].key == field;
  }
  template <typename Dom>
  bool scalar(Dom&& dom, int64_t integer) {
    if (mode_ == Mode::kDom) return dom();
    if (mode_ == Mode::kVocab) {
      if (depth_in_mode_ == 0) {
        if (integer < 0 && out_.vocab_error.empty()) {
          out_.vocab_error = "model.vocab['" + vocab_key_ + "']: must be a non-negative integer id";
        }
        out_.vocab.emplace_back(std::move(vocab_key_), integer);
      }
      return true;
    }
    // Merges: a non-string element or pair member.
    if (depth_in_mode_ == 0) {
      merge_fail("must be \"a b\" or [\"a\", \"b\"]");
      out_.merges.emplace_back();
      ++merge_index_;
    } else {
      pair_bad_ = true;
    }
    return true;
  }
  bool nested_start(bool is_object) {
    if (mode_ == Mode::kVocab && depth_in_mode_ == 0 && out_.vocab_error.empty()) {
      out_.vocab_error = "model.vocab['" + vocab_key_ + "']: must be a non-negative integer id";
    }
    if (mode_ == Mode::kMerges && depth_in_mode_ <= 1) {
      if (depth_in_mode_ == 0) {
        merge_fail("must be \"a b\" or [\"a\", \"b\"]");
      } else {
        pair_bad_ = true;
      }
    }
    ++depth_in_mode_;
    return true;
  }
  bool nested_end() {
    --depth_in_mode_;
    if (mode_ == Mode::kMerges && depth_in_mode_ == 0) {
      out_.merges.emplace_back();
      ++merge_index_;
    }
    return true;
  }
  void merge_fail(const std::string& what) {
    if (out_.merge_error.empty()) {
      out_.merge_error = "model.merges[" + std::to_string(merge_index_) + "]: " + what;
    }
  }

  ParsedTokenizerJson& out_;
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<Level> path_;
  Mode mode_ = Mode::kDom;
  int depth_in_mode_ = 0;
  std::string vocab_key_;
  std::vector<std::string> pair_;
  bool pair_bad_ = false;
  size_t merge_index_ = 0;
};

}  // namespace

ParsedTokenizerJson parse_tokenizer_json(std::string_view text, const std::string& label) {
  ParsedTokenizerJson parsed;
  TokenizerJsonSax sax(parsed);
  sax.label_ = label;
  try {
    json::sax_parse(text, &sax);
  } catch (const json::exception& e) {
    throw_invalid(label + ": not valid JSON: " + e.what());
  }
  return parsed;
}

}  // namespace assay::inference::hf
