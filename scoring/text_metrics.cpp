#include "scoring/text_metrics.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cmath>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/utf8.h"
#include "scoring/squad.h"
#include "scoring/text.h"

namespace assay::scoring {

struct RegexMatcher::Impl {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  bool full = false;
};

RegexMatcher::RegexMatcher(const std::string& pattern, bool full, bool ignore_case)
    : impl_(std::make_unique<Impl>()) {
  impl_->full = full;
  int err = 0;
  PCRE2_SIZE offset = 0;
  uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_UCP;
  if (ignore_case) flags |= PCRE2_CASELESS;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), flags,
                              &err, &offset, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    throw_invalid("metric regex_match: option 'pattern' does not compile at offset " +
                  std::to_string(offset) + ": " + reinterpret_cast<const char*>(msg));
  }
  impl_->context = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(impl_->context, 10'000'000);
  pcre2_set_depth_limit(impl_->context, 100'000);
}

RegexMatcher::~RegexMatcher() {
  if (impl_) {
    pcre2_match_context_free(impl_->context);
    pcre2_code_free(impl_->code);
  }
}

double RegexMatcher::match(std::string_view text) const {
  std::string stripped;
  std::string_view subject = text;
  if (impl_->full) {
    stripped = py_strip(text);
    subject = stripped;
  }
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  uint32_t opts = impl_->full ? (PCRE2_ANCHORED | PCRE2_ENDANCHORED) : 0;
  int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                       opts, md, impl_->context);
  pcre2_match_data_free(md);
  if (rc >= 0) return 1.0;
  if (rc == PCRE2_ERROR_NOMATCH) return 0.0;
  return std::numeric_limits<double>::quiet_NaN();
}

double contains(std::string_view prediction, std::string_view reference, bool ignore_case) {
  std::string ref = py_strip(reference);
  if (!ignore_case) return std::string_view(prediction).find(ref) != std::string_view::npos;
  std::string p = utf8::py_lower(prediction);
  std::string r = utf8::py_lower(ref);
  return p.find(r) != std::string::npos ? 1.0 : 0.0;
}

double valid_json(std::string_view text) {
  std::string s = py_strip(text);
  if (s.empty()) return 0.0;
  return nlohmann::json::accept(s) ? 1.0 : 0.0;
}

double answer_words(std::string_view text) {
  std::string storage;
  std::vector<std::string_view> words;
  py_split(valid_utf8(text, storage), words);
  return static_cast<double>(words.size());
}

}  // namespace assay::scoring
