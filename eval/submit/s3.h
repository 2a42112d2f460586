// The S3 calls evalctl needs (HEAD, PUT, multipart upload, ListObjectsV2, GET) and
// content-addressed staging of local inputs under s3://BUCKET/PREFIX/inputs/<sha256>/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "eval/submit/aws_client.h"

namespace assay::submit {

struct S3Uri {
  std::string bucket;
  std::string key;  // may be empty or end with '/'
};

// Parses "s3://bucket/key". Throws assay::Error (invalid input) naming the URI.
S3Uri parse_s3_uri(const std::string& uri);

// Multipart threshold and part size (S3 requires parts of at least 5 MiB except the last).
inline constexpr uint64_t kMultipartThreshold = 64ull << 20;

class S3 {
 public:
  // `client` sends the calls; with `dry_run` set, nothing is sent and each request is printed as
  // one JSON line {"service":"s3","method":...,"path":...} to it (HEAD answers "missing").
  S3(AwsClient* client, std::ostream* dry_run, uint64_t part_size = kMultipartThreshold);

  // True when the object exists (HEAD 200), false on 404. Throws AwsError on other answers.
  bool exists(const S3Uri& object);
  // Uploads a local file; multipart when larger than the part size. Throws AwsError / Error.
  void put_file(const S3Uri& object, const std::filesystem::path& file);
  // Uploads bytes in one PUT.
  void put(const S3Uri& object, const std::string& bytes);
  // Keys under a prefix (all pages).
  std::vector<std::string> list(const S3Uri& prefix);
  // Downloads an object's bytes.
  std::string get(const S3Uri& object);
  // Uploads performed so far (for reports and tests).
  int uploads() const { return uploads_; }

 private:
  HttpResponse call(const std::string& method, const std::string& path_and_query,
                    const std::string& body, std::initializer_list<long> accept = {});

  AwsClient* client_;
  std::ostream* dry_run_;
  uint64_t part_size_;
  int uploads_ = 0;
};

// One staged input: where it lives in S3 and where in the container (for MODEL_PATH etc.).
struct StagedInput {
  std::string s3_uri;          // S3Prefix the job downloads (object key or folder prefix)
  std::string content_sha256;  // content hash (file bytes, or the folder's manifest)
  bool is_file = false;        // a single file (lands as <local_path>/<file name>)
};

// The content hash of a local file or folder: a file's SHA-256, or for a folder the SHA-256 of
// its sorted "relative/path\0<sha256>\n" manifest. Throws assay::Error (not found) naming it.
std::string local_content_hash(const std::filesystem::path& path);

// Uploads `path` to <staging>/inputs/<hash>/<name> (file) or <staging>/inputs/<hash>/... (folder),
// HEADing each object first and uploading only what is missing. `hash` is local_content_hash.
StagedInput stage_local_input(S3& s3, const std::string& staging, const std::filesystem::path& path,
                              const std::string& hash);

}  // namespace assay::submit
