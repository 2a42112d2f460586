// libFuzzer: tokenizer.json loader. Any input must load or throw assay::Error; a tokenizer that
// loads must encode and decode without crashing, hanging or producing invalid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "core/utf8.h"
#include "inference/tokenizer_impl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<assay::inference::Tokenizer> tokenizer;
  try {
    tokenizer = assay::inference::load_tokenizer_json(input, "fuzz/tokenizer.json", {});
  } catch (const assay::Error& e) {
    if (e.kind() != assay::ErrorKind::kInvalidInput) std::abort();
    return 0;
  }
  for (std::string_view text : {std::string_view("Hello world, it's 2024! \xC3\xA9\xE4\xB8\xAD "),
                                std::string_view("<s> a  b\n\n"), input.substr(0, 64)}) {
    for (bool special : {false, true}) {
      auto ids = tokenizer->encode(text, special);
      for (int32_t id : ids) {
        if (id < 0 || static_cast<size_t>(id) >= tokenizer->vocab_size()) std::abort();
      }
      for (bool skip : {false, true}) {
        if (!assay::utf8::is_valid(tokenizer->decode(ids, skip))) std::abort();
      }
    }
  }
  return 0;
}
