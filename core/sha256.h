// Content hashing: SHA-256 over OpenSSL's EVP interface, as lowercase hex.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace assay {

// Incremental SHA-256. Not copyable; cheap to create.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // Returns the digest as 64 lowercase hex characters. The object must not be used afterwards.
  std::string hex_digest();
  // Returns the raw 32-byte digest. The object must not be used afterwards.
  std::string raw_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256 of `bytes` as 64 lowercase hex characters.
std::string sha256_hex(std::string_view bytes);

// SHA-256 of a file's contents, streamed. Throws assay::Error (not found / i/o) naming the path.
std::string sha256_file(const std::filesystem::path& path);

// Lowercase hex of arbitrary bytes.
std::string to_hex(std::string_view bytes);

}  // namespace assay
