// Fuzzes the JSONL reader and the dataset parser (JSONL and the JSON-array element scanner):
// any input must give samples or an assay::Error, never a crash, hang or other exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/jsonl.h"
#include "eval/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  for (auto policy : {assay::TornTail::kError, assay::TornTail::kDrop}) {
    try {
      auto c = assay::parse_jsonl(text, "fuzz.jsonl", policy);
      if (c.valid_bytes > text.size()) __builtin_trap();
    } catch (const assay::Error&) {
    }
  }
  try {
    assay::eval::DatasetNeeds needs;
    needs.reference = (size & 1) != 0;
    auto ds = assay::eval::parse_dataset(text, "fuzz.jsonl", {}, needs);
    if (ds.samples.empty()) __builtin_trap();  // an empty dataset must be an error
  } catch (const assay::Error&) {
  }
  return 0;
}
