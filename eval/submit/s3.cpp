#include "eval/submit/s3.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/sha256.h"

namespace assay::submit {

namespace fs = std::filesystem;

S3Uri parse_s3_uri(const std::string& uri) {
  if (uri.rfind("s3://", 0) != 0) throw_invalid("'" + uri + "' is not an s3:// URI");
  std::string rest = uri.substr(5);
  auto slash = rest.find('/');
  S3Uri out{rest.substr(0, slash), slash == std::string::npos ? "" : rest.substr(slash + 1)};
  if (out.bucket.empty()) throw_invalid("'" + uri + "' has no bucket");
  return out;
}

namespace {

std::string object_path(const S3Uri& o) {
  return "/" + o.bucket + "/" + aws_uri_encode(o.key, true);
}

std::string xml_unescape(std::string s) {
  const std::pair<const char*, const char*> kEntities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : kEntities) {
    for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos;
         pos += std::string(to).size()) {
      s.replace(pos, std::string(from).size(), to);
    }
  }
  return s;
}

std::vector<std::string> xml_values(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t pos = 0; (pos = xml.find(open, pos)) != std::string::npos;) {
    size_t end = xml.find(close, pos);
    if (end == std::string::npos) break;
    out.push_back(xml_unescape(xml.substr(pos + open.size(), end - pos - open.size())));
    pos = end + close.size();
  }
  return out;
}

}  // namespace

S3::S3(AwsClient* client, std::ostream* dry_run, uint64_t part_size)
    : client_(client), dry_run_(dry_run), part_size_(part_size) {}

HttpResponse S3::call(const std::string& method, const std::string& path_and_query,
                      const std::string& body, std::initializer_list<long> accept) {
  if (dry_run_ != nullptr) {
    nlohmann::json line = {{"service", "s3"}, {"method", method}, {"path", path_and_query}};
    if (!body.empty()) line["body_bytes"] = body.size();
    *dry_run_ << line.dump() << "\n";
    HttpResponse fake;
    fake.status = method == "HEAD" ? 404 : 200;
    return fake;
  }
  return client_->call_s3(method, path_and_query, body, {}, accept);
}

bool S3::exists(const S3Uri& object) {
  return call("HEAD", object_path(object), "", {404}).status == 200;
}

void S3::put(const S3Uri& object, const std::string& bytes) {
  call("PUT", object_path(object), bytes);
  ++uploads_;
}

void S3::put_file(const S3Uri& object, const fs::path& file) {
  uint64_t size = fs::file_size(file);
  if (size <= part_size_) {
    put(object, read_file(file));
    return;
  }
  std::string path = object_path(object);
  std::string upload_id = "DRY-RUN-UPLOAD-ID";
  HttpResponse created = call("POST", path + "?uploads=", "");
  if (dry_run_ == nullptr) {
    auto ids = xml_values(created.body, "UploadId");
    if (ids.empty())
      throw Error(ErrorKind::kRemote,
                  "S3 CreateMultipartUpload " + path + ": no UploadId in answer");
    upload_id = ids[0];
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_io(file.string() + ": cannot open for upload");
  std::string complete = "<CompleteMultipartUpload>";
  std::string part(part_size_, '\0');
  for (int number = 1; in; ++number) {
    in.read(part.data(), static_cast<std::streamsize>(part_size_));
    std::streamsize got = in.gcount();
    if (got <= 0) break;
    HttpResponse r = call("PUT",
                          path + "?partNumber=" + std::to_string(number) +
                              "&uploadId=" + aws_uri_encode(upload_id, false),
                          part.substr(0, static_cast<size_t>(got)));
    std::string etag = r.header("etag").value_or("");
    complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" + etag +
                "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  call("POST", path + "?uploadId=" + aws_uri_encode(upload_id, false), complete);
  ++uploads_;
}

std::vector<std::string> S3::list(const S3Uri& prefix) {
  // The trailing '/' is left off the listed prefix and applied here: moto's SigV4 check rejects
  // a prefix holding an encoded '/' (boto3's too), and this keeps prefixes at the bucket root
  // slash-free. Real S3 accepts both.
  std::string wire_prefix = prefix.key;
  if (!wire_prefix.empty() && wire_prefix.back() == '/') wire_prefix.pop_back();
  std::vector<std::string> keys;
  std::string token;
  for (;;) {
    std::string q =
        "/" + prefix.bucket + "?list-type=2&prefix=" + aws_uri_encode(wire_prefix, false);
    if (!token.empty()) q += "&continuation-token=" + aws_uri_encode(token, false);
    HttpResponse r = call("GET", q, "");
    for (auto& k : xml_values(r.body, "Key")) {
      if (k.rfind(prefix.key, 0) == 0) keys.push_back(std::move(k));
    }
    auto next = xml_values(r.body, "NextContinuationToken");
    if (next.empty() || next[0].empty()) break;
    token = next[0];
  }
  return keys;
}

std::string S3::get(const S3Uri& object) {
  return call("GET", object_path(object), "").body;
}

std::string local_content_hash(const fs::path& path) {
  if (!fs::exists(path)) throw_not_found(path.string() + ": input does not exist");
  if (fs::is_regular_file(path)) return sha256_file(path);
  std::vector<std::string> lines;
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    if (!entry.is_regular_file()) continue;
    lines.push_back(fs::relative(entry.path(), path).generic_string() + '\0' +
                    sha256_file(entry.path()) + "\n");
  }
  std::sort(lines.begin(), lines.end());
  Sha256 h;
  for (const auto& l : lines) h.update(l);
  return h.hex_digest();
}

StagedInput stage_local_input(S3& s3, const std::string& staging, const fs::path& path,
                              const std::string& hash) {
  S3Uri base = parse_s3_uri(staging);
  if (!base.key.empty() && base.key.back() != '/') base.key += '/';
  base.key += "inputs/" + hash + "/";
  StagedInput staged;
  staged.content_sha256 = hash;
  auto upload = [&](const fs::path& file, const std::string& rel) {
    S3Uri object{base.bucket, base.key + rel};
    if (!s3.exists(object)) s3.put_file(object, file);
  };
  if (fs::is_regular_file(path)) {
    std::string name = path.filename().string();
    upload(path, name);
    staged.s3_uri = "s3://" + base.bucket + "/" + base.key + name;
    staged.is_file = true;
    return staged;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) upload(f, fs::relative(f, path).generic_string());
  staged.s3_uri = "s3://" + base.bucket + "/" + base.key;
  return staged;
}

}  // namespace assay::submit
