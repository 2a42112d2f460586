#include "inference/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace assay::inference {
namespace fs = std::filesystem;
using nlohmann::json;

size_t dtype_size(DType dtype) {
  return dtype == DType::kF32 ? 4 : 2;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
  }
  return "?";
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

uint64_t read_le64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "F32") return DType::kF32;
  if (s == "F16") return DType::kF16;
  if (s == "BF16") return DType::kBF16;
  throw_invalid(where + ": dtype '" + s + "' is not supported (Assay loads F32, F16 and BF16)");
}

}  // namespace

SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file,
                                           const std::string& label) {
  if (file.size() < 8) {
    throw_invalid(label + ": truncated safetensors file (" + std::to_string(file.size()) +
                  " bytes, the 8-byte header length is missing)");
  }
  const uint64_t n = read_le64(file.data());
  if (n > kMaxSafetensorsHeader) {
    throw_invalid(label + ": header length " + std::to_string(n) + " exceeds the 100 MB limit");
  }
  if (n > file.size() - 8) {
    throw_invalid(label + ": header length " + std::to_string(n) +
                  " runs past the end of the file (" + std::to_string(file.size()) +
                  " bytes): truncated or not a safetensors file");
  }
  SafetensorsHeader header;
  header.data_start = 8 + n;
  const uint64_t data_size = file.size() - header.data_start;
  json doc;
  try {
    doc = json::parse(reinterpret_cast<const char*>(file.data() + 8),
                      reinterpret_cast<const char*>(file.data() + 8 + n));
  } catch (const json::exception& e) {
    throw_invalid(label + ": header is not valid JSON: " + e.what());
  }
  if (!doc.is_object()) throw_invalid(label + ": header is not a JSON object");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    const std::string where = label + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      if (!entry.is_object()) throw_invalid(label + ": '__metadata__' must be an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) {
          throw_invalid(label + ": '__metadata__." + m.key() + "' must be a string");
        }
        header.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) throw_invalid(where + " must be an object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string())
      throw_invalid(where + ": missing string field 'dtype'");
    if (shape_it == entry.end() || !shape_it->is_array())
      throw_invalid(where + ": missing array field 'shape'");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
      throw_invalid(where + ": field 'data_offsets' must be an array [begin, end]");
    }
    TensorInfo info;
    info.name = name;
    info.dtype = parse_dtype(dtype_it->get<std::string>(), where);
    uint64_t numel = 1;
    for (const json& d : *shape_it) {
      if (!d.is_number_unsigned())
        throw_invalid(where + ": 'shape' entries must be non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 48) || __builtin_mul_overflow(numel, dim, &numel)) {
        throw_invalid(where + ": 'shape' is absurdly large");
      }
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const json& o : *offsets_it) {
      if (!o.is_number_unsigned())
        throw_invalid(where + ": 'data_offsets' must be non-negative integers");
    }
    info.begin = (*offsets_it)[0].get<uint64_t>();
    info.end = (*offsets_it)[1].get<uint64_t>();
    if (info.begin > info.end) throw_invalid(where + ": data_offsets begin > end");
    if (info.end > data_size) {
      throw_invalid(where + ": data_offsets [" + std::to_string(info.begin) + ", " +
                    std::to_string(info.end) + "] lie outside the data section (" +
                    std::to_string(data_size) + " bytes): truncated or lying header");
    }
    uint64_t expected = 0;
    if (__builtin_mul_overflow(numel, dtype_size(info.dtype), &expected) ||
        expected != info.end - info.begin) {
      throw_invalid(where + ": " + std::to_string(info.end - info.begin) +
                    " bytes in data_offsets but dtype " + dtype_name(info.dtype) +
                    " x shape needs " + std::to_string(numel * dtype_size(info.dtype)));
    }
    header.tensors.push_back(std::move(info));
  }
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  for (size_t i = 1; i < header.tensors.size(); ++i) {
    const TensorInfo& prev = header.tensors[i - 1];
    const TensorInfo& cur = header.tensors[i];
    // Zero-sized tensors occupy no bytes and cannot overlap anything.
    if (cur.begin < prev.end && cur.begin != cur.end) {
      throw_invalid(label + ": tensors '" + prev.name + "' and '" + cur.name +
                    "' overlap in the data section");
    }
  }
  return header;
}

// ---------------------------------------------------------------------------------------------

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const fs::path& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  const std::string label = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw_not_found(label + ": no such file");
    throw_io(label + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw_invalid(label + ": not a regular file");
  }
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* map = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      throw_io(label + ": mmap failed: " + std::strerror(errno));
    }
    file->map_ = map;
  }
  ::close(fd);
  std::span<const std::byte> bytes(static_cast<const std::byte*>(file->map_), file->size_);
  file->header_ = parse_safetensors_header(bytes, label);
  for (size_t i = 0; i < file->header_.tensors.size(); ++i)
    file->index_[file->header_.tensors[i].name] = i;
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

TensorView SafetensorsFile::view(const TensorInfo& info) const {
  const auto* base = static_cast<const std::byte*>(map_) + header_.data_start;
  return TensorView{&info, std::span<const std::byte>(base + info.begin, info.end - info.begin)};
}

// ---------------------------------------------------------------------------------------------

WeightSet WeightSet::open_file(const fs::path& file) {
  WeightSet set;
  set.label_ = file.string();
  set.files_.push_back(SafetensorsFile::open(file));
  for (const TensorInfo& info : set.files_[0]->header().tensors)
    set.by_name_[info.name] = {0, &info};
  return set;
}

WeightSet WeightSet::open(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    if (!fs::exists(path, ec)) throw_not_found(path.string() + ": no such file or folder");
    return open_file(path);
  }
  const fs::path index_path = path / "model.safetensors.index.json";
  if (!fs::exists(index_path, ec)) {
    if (fs::exists(path / "model.safetensors", ec)) return open_file(path / "model.safetensors");
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.path().extension() == ".safetensors") found.push_back(entry.path());
    }
    if (found.size() == 1) return open_file(found[0]);
    if (found.empty())
      throw_not_found(path.string() + ": no model.safetensors or model.safetensors.index.json");
    throw_invalid(path.string() +
                  ": several .safetensors files but no model.safetensors.index.json");
  }
  WeightSet set;
  set.label_ = index_path.string();
  json index;
  try {
    index = json::parse(read_file(index_path));
  } catch (const json::exception& e) {
    throw_invalid(set.label_ + ": not valid JSON: " + e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw_invalid(set.label_ + ": missing object field 'weight_map'");
  }
  std::map<std::string, size_t> shard_of_file;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw_invalid(set.label_ + ": weight_map['" + it.key() + "'] must be a file name");
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "..") {
      throw_invalid(set.label_ + ": weight_map['" + it.key() + "'] = '" + shard +
                    "' is not a file name in the folder");
    }
    auto [pos, inserted] = shard_of_file.emplace(shard, set.files_.size());
    if (inserted) set.files_.push_back(SafetensorsFile::open(path / shard));
    const SafetensorsFile& file = *set.files_[pos->second];
    const TensorInfo* info = file.find(it.key());
    if (info == nullptr) {
      throw_invalid(set.label_ + ": weight_map says '" + it.key() + "' is in " + shard +
                    " but that file lacks it");
    }
    set.by_name_[it.key()] = {pos->second, info};
  }
  // A tensor present in a shard but absent from the map would be silently ignored; HF never writes
  // that, so treat it as a broken checkpoint.
  for (const auto& file : set.files_) {
    for (const TensorInfo& info : file->header().tensors) {
      auto it = set.by_name_.find(info.name);
      if (it == set.by_name_.end()) {
        throw_invalid(set.label_ + ": tensor '" + info.name + "' in " +
                      file->path().filename().string() + " is not listed in weight_map");
      }
      if (it->second.second != &info) {
        throw_invalid(set.label_ + ": tensor '" + info.name + "' is present in two shards");
      }
    }
  }
  return set;
}

TensorView WeightSet::find(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return TensorView{};
  return files_[it->second.first]->view(*it->second.second);
}

TensorView WeightSet::get(std::string_view name) const {
  TensorView view = find(name);
  if (view.info == nullptr) throw_invalid(label_ + ": missing tensor '" + std::string(name) + "'");
  return view;
}

std::vector<std::string> WeightSet::names() const {
  std::vector<std::string> out;
  for (const auto& [name, where] : by_name_) out.push_back(name);
  return out;
}

std::string WeightSet::file_of(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? std::string() : files_[it->second.first]->path().string();
}

// ---------------------------------------------------------------------------------------------

void write_safetensors(const fs::path& path, std::span<const TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const TensorToWrite& t : tensors) {
    if (!seen.insert(t.name).second)
      throw_invalid(path.string() + ": duplicate tensor name '" + t.name + "'");
    uint64_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
    if (numel * dtype_size(t.dtype) != t.bytes.size()) {
      throw_invalid(path.string() + ": tensor '" + t.name + "' has " +
                    std::to_string(t.bytes.size()) + " bytes but its shape needs " +
                    std::to_string(numel * dtype_size(t.dtype)));
    }
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  while ((text.size() % 8) != 0) text.push_back(' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += text;
  for (const TensorToWrite& t : tensors)
    out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  atomic_write(path, out);
}

// ---------------------------------------------------------------------------------------------

uint16_t float_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float bf16_to_float(uint16_t bits) {
  uint32_t v = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}

uint16_t float_to_f16(float value) {
  // Portable (clang 14 has no _Float16 on x86): round to nearest even, overflow to infinity.
  uint32_t x;
  std::memcpy(&x, &value, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u)
    return static_cast<uint16_t>(sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520
  if (abs < 0x38800000u) {  // below 2^-14: subnormal half
    float magnitude;
    std::memcpy(&magnitude, &abs, 4);
    return static_cast<uint16_t>(sign |
                                 static_cast<uint32_t>(std::nearbyint(magnitude * 16777216.0f)));
  }
  abs += 0xc8000fffu + ((abs >> 13) & 1u);  // rebias the exponent, round half to even
  return static_cast<uint16_t>(sign | (abs >> 13));
}

float f16_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  uint32_t out;
  if (exponent == 0) {
    float f = std::ldexp(static_cast<float>(mantissa), -24);
    std::memcpy(&out, &f, 4);
    out |= sign;
  } else if (exponent == 31) {
    out = sign | 0x7f800000u | (mantissa << 13);
  } else {
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &out, 4);
  return f;
}

namespace {

// Index of the first element whose exponent bits are all ones (NaN or Inf), or -1. Blocks keep
// the inner loop branch-free (it vectorizes); only a block that has one is searched again.
template <typename Bits, Bits kExponent>
int64_t first_non_finite(std::span<const std::byte> bytes) {
  constexpr size_t kBlock = 4096;
  const size_t n = bytes.size() / sizeof(Bits);
  auto at = [&](size_t i) {
    Bits v;
    std::memcpy(&v, bytes.data() + i * sizeof(Bits), sizeof(Bits));
    return (v & kExponent) == kExponent;
  };
  for (size_t begin = 0; begin < n; begin += kBlock) {
    const size_t end = std::min(n, begin + kBlock);
    bool bad = false;
    for (size_t i = begin; i < end; ++i) bad |= at(i);
    if (!bad) continue;
    for (size_t i = begin; i < end; ++i) {
      if (at(i)) return static_cast<int64_t>(i);
    }
  }
  return -1;
}

}  // namespace

void check_finite(const WeightSet& weights) {
  for (const std::string& name : weights.names()) {
    const TensorView view = weights.get(name);
    int64_t bad = -1;
    switch (view.dtype()) {
      case DType::kF32:
        bad = first_non_finite<uint32_t, 0x7F800000u>(view.bytes);
        break;
      case DType::kF16:
        bad = first_non_finite<uint16_t, 0x7C00u>(view.bytes);
        break;
      case DType::kBF16:
        bad = first_non_finite<uint16_t, 0x7F80u>(view.bytes);
        break;
    }
    if (bad >= 0) {
      throw_invalid(weights.file_of(name) + ": tensor '" + name + "' holds NaN or Inf (element " +
                    std::to_string(bad) + " of " + std::to_string(view.numel()) +
                    "); the checkpoint is corrupt or was saved from a diverged training run");
    }
  }
}

}  // namespace assay::inference
