#include "eval/model_identity.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <vector>

#include "core/error.h"
#include "core/sha256.h"

#ifndef ASSAY_SOURCE_DIR
#define ASSAY_SOURCE_DIR ""
#endif

namespace assay::eval {
namespace fs = std::filesystem;

namespace {
// Reads up to `n` bytes at `offset` of an open file.
std::string read_at(std::ifstream& in, std::uint64_t offset, std::uint64_t n) {
  std::string buf(n, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(buf.data(), static_cast<std::streamsize>(n));
  buf.resize(static_cast<size_t>(in.gcount()));
  in.clear();
  return buf;
}

void hash_safetensors_header(const fs::path& file, Sha256& h) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_io(file.string() + ": cannot open");
  std::uint64_t size = fs::file_size(file);
  std::string len = read_at(in, 0, 8);
  h.update("safetensors\n" + file.filename().string() + "\n" + std::to_string(size) + "\n");
  if (len.size() < 8) return;
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(len[i]);
  h.update(read_at(in, 8, std::min<std::uint64_t>(n, size > 8 ? size - 8 : 0)));
}

}  // namespace

fs::path find_bundled_model() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("ASSAY_MODEL_DIR"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path().parent_path() / "share" / "assay" / "models" /
                         "stories260K");
  }
  if (std::string(ASSAY_SOURCE_DIR).size() > 0) {
    candidates.push_back(fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K");
  }
  std::string looked;
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c / "config.json", ec)) return c;
    looked += "\n  " + c.string();
  }
  throw_not_found(
      "--dummy without a model: the bundled model models/stories260K was not found; "
      "looked in (set ASSAY_MODEL_DIR or pass --model):" +
      looked);
}

std::string model_fingerprint(const fs::path& model) {
  std::error_code ec;
  if (!fs::exists(model, ec)) throw_not_found(model.string() + ": model not found");
  Sha256 h;
  if (fs::is_regular_file(model, ec)) {  // model.tar.gz: size + first and last MiB
    constexpr std::uint64_t kMiB = 1 << 20;
    std::uint64_t size = fs::file_size(model);
    std::ifstream in(model, std::ios::binary);
    if (!in) throw_io(model.string() + ": cannot open");
    h.update("archive\n" + std::to_string(size) + "\n");
    h.update(read_at(in, 0, kMiB));
    h.update(read_at(in, size > kMiB ? size - kMiB : 0, kMiB));
    return h.hex_digest();
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(model)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  static const std::set<std::string> kWhole = {
      "config.json",           "adapter_config.json", "generation_config.json",
      "tokenizer_config.json", "tokenizer.json",      "tokenizer.model"};
  for (const auto& f : files) {
    std::string name = f.filename().string();
    if (kWhole.count(name)) {
      h.update("file\n" + name + "\n" + sha256_file(f) + "\n");
    } else if (f.extension() == ".safetensors") {
      hash_safetensors_header(f, h);
    }
  }
  return h.hex_digest();
}

}  // namespace assay::eval
