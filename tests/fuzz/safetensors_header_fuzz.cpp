// libFuzzer target: the safetensors header parser on arbitrary bytes. Any input must either parse
// into tensors that lie inside the data section without overlapping, or throw assay::Error of kind
// invalid input; never crash, hang or throw anything else.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/error.h"
#include "inference/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto header = assay::inference::parse_safetensors_header(bytes, "fuzz.safetensors");
    const uint64_t data_size = size - header.data_start;
    uint64_t prev_end = 0;
    for (const auto& t : header.tensors) {
      if (t.end > data_size || t.begin > t.end) std::abort();
      if (t.begin != t.end && t.begin < prev_end) std::abort();
      if (static_cast<uint64_t>(t.numel()) * assay::inference::dtype_size(t.dtype) != t.end - t.begin) std::abort();
      if (t.begin != t.end) prev_end = t.end;
    }
  } catch (const assay::Error& e) {
    if (e.kind() != assay::ErrorKind::kInvalidInput) std::abort();
  }
  return 0;
}
