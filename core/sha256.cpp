#include "core/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace assay {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  ASSAY_CHECK(impl_->ctx != nullptr);
  ASSAY_CHECK(EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::update(std::string_view bytes) {
  ASSAY_CHECK(EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size()) == 1);
}

std::string Sha256::raw_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSAY_CHECK(EVP_DigestFinal_ex(impl_->ctx, md, &len) == 1);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string Sha256::hex_digest() { return to_hex(raw_digest()); }

std::string to_hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex_digest();
}

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) throw_not_found(path.string() + ": no such file");
    throw_io(path.string() + ": cannot open: " + std::strerror(errno));
  }
  Sha256 h;
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) throw_io(path.string() + ": read failed");
  return h.hex_digest();
}

}  // namespace assay
