// safetensors: a validating reader (mmap, single file or sharded with an index) and a writer.
// Torch-free on purpose: tensors are raw byte spans plus a dtype and a shape, so eval, benches and
// the fuzz target can use this header without pulling in libtorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace assay::inference {

// Element types Assay loads. Others (I8, F64, F8_E4M3, ...) are rejected with a clear error.
enum class DType { kF32, kF16, kBF16 };

// Bytes per element: 4 or 2.
size_t dtype_size(DType dtype);
// The safetensors spelling: "F32", "F16", "BF16".
const char* dtype_name(DType dtype);

// Largest header Assay accepts (the format's own reference implementation uses 100 MB).
inline constexpr uint64_t kMaxSafetensorsHeader = 100ull * 1000 * 1000;

// One tensor as described by a header: where its bytes lie relative to the start of the data
// section (the byte after the header).
struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // empty = a scalar (one element)
  uint64_t begin = 0;          // data_offsets[0]
  uint64_t end = 0;            // data_offsets[1]
  int64_t numel() const;
};

// A parsed, validated header.
struct SafetensorsHeader {
  uint64_t data_start = 0;                      // 8 + header length: file offset of the data
  std::vector<TensorInfo> tensors;              // sorted by begin offset
  std::map<std::string, std::string> metadata;  // "__metadata__" (string values only)
};

// Parses and validates the first bytes of a safetensors file whose total size is `file.size()`.
// Checks: 8-byte length present, length < 100 MB and inside the file, the header is a JSON object,
// each entry has a known dtype, a non-negative shape, data_offsets [begin, end] with begin <= end
// inside the data section, end - begin == dtype size x product(shape), no two tensors overlap.
// `label` names the file in messages. Throws assay::Error (invalid input) on any violation.
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file,
                                           const std::string& label);

// A view of one tensor's bytes inside a mapped file. Valid while its SafetensorsFile lives.
struct TensorView {
  const TensorInfo* info = nullptr;
  std::span<const std::byte> bytes;
  const std::string& name() const { return info->name; }
  DType dtype() const { return info->dtype; }
  const std::vector<int64_t>& shape() const { return info->shape; }
  int64_t numel() const { return info->numel(); }
};

// One memory-mapped, validated .safetensors file.
class SafetensorsFile {
 public:
  // Maps and validates `path`. Throws assay::Error: not found (missing), invalid input (bad
  // content, naming the file and the problem), i/o (mmap failure).
  static std::unique_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  // The tensor named `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const;
  // Bytes of `info` (which must belong to this file).
  TensorView view(const TensorInfo& info) const;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  SafetensorsHeader header_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in header_.tensors
};

// All weights of a checkpoint: one model.safetensors, or the shards listed by
// model.safetensors.index.json ("weight_map": name -> shard file).
class WeightSet {
 public:
  // `path` is a model folder (model.safetensors.index.json preferred, else model.safetensors,
  // else the one *.safetensors there) or a .safetensors file. Throws assay::Error naming the file:
  // not found (nothing to load), invalid input (bad index or shard, a name mapped to a shard that
  // lacks it, a name present in two shards).
  static WeightSet open(const std::filesystem::path& path);
  // Opens exactly one file.
  static WeightSet open_file(const std::filesystem::path& file);

  // The tensor named `name`; throws assay::Error (invalid input) naming `name` and the files
  // when absent.
  TensorView get(std::string_view name) const;
  // The tensor or nullopt-like: view.info == nullptr when absent.
  TensorView find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name).info != nullptr; }
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  // Which file holds `name` ("" when absent); for error messages.
  std::string file_of(std::string_view name) const;
  // Label for messages: the index file or the single file.
  const std::string& label() const { return label_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<size_t, const TensorInfo*>, std::less<>> by_name_;
  std::string label_;
};

// Checks that every tensor of `weights` holds only finite numbers (no NaN or Inf, in any of the
// three dtypes). Throws assay::Error (invalid input) naming the file, the tensor and the index
// of its first non-finite element. Reads every byte once.
void check_finite(const WeightSet& weights);

// A tensor to write: name, dtype, shape and exactly dtype_size x numel bytes.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;
};

// Writes a .safetensors file (tensors laid out in the given order, header padded to 8 bytes as
// the reference writer does). Throws assay::Error: invalid input (byte count != shape, duplicate
// name), i/o.
void write_safetensors(const std::filesystem::path& path, std::span<const TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Helpers for tests and benches: float <-> bf16 / f16 bit patterns (round to nearest even).
uint16_t float_to_bf16(float value);
float bf16_to_float(uint16_t bits);
uint16_t float_to_f16(float value);
float f16_to_float(uint16_t bits);

}  // namespace assay::inference
