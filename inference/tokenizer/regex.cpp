#include "inference/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"

namespace assay::inference {

struct TokenizerRegex::Impl {
  pcre2_code* code = nullptr;
};

namespace {

// One match-data block per thread, grown as needed: no allocation per call on the hot path.
struct MatchData {
  pcre2_match_data* data = nullptr;
  ~MatchData() {
    if (data != nullptr) pcre2_match_data_free(data);
  }
};

}  // namespace

TokenizerRegex::TokenizerRegex(const std::string& pattern, const std::string& context)
    : impl_(std::make_unique<Impl>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (impl_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw_invalid(context + ": regex does not compile at offset " + std::to_string(error_offset) +
                  ": " + reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
}

TokenizerRegex::~TokenizerRegex() {
  if (impl_ && impl_->code != nullptr) pcre2_code_free(impl_->code);
}

void TokenizerRegex::find_all(std::string_view text,
                              std::vector<std::pair<size_t, size_t>>& out) const {
  thread_local MatchData match;
  if (match.data == nullptr) match.data = pcre2_match_data_create(16, nullptr);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  uint32_t options = 0;
  while (offset <= text.size()) {
    int rc = pcre2_match(impl_->code, subject, text.size(), offset, options | PCRE2_NO_UTF_CHECK,
                         match.data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0 && rc != 0) {
      if (rc == PCRE2_ERROR_NOMEMORY) {
        // Ovector too small never happens (we read group 0 only); a resource limit did.
        throw_invalid("tokenizer regex: match resource limit exceeded");
      }
      throw_invalid("tokenizer regex: match failed (pcre2 error " + std::to_string(rc) + ")");
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.data);
    size_t begin = ov[0], end = ov[1];
    if (end > begin) {
      out.emplace_back(begin, end);
      offset = end;
    } else {
      // Empty match: step over one UTF-8 character.
      if (begin >= text.size()) break;
      offset = begin + 1;
      while (offset < text.size() && (static_cast<unsigned char>(text[offset]) & 0xC0) == 0x80) {
        ++offset;
      }
    }
  }
}

}  // namespace assay::inference
