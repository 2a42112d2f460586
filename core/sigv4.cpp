#include "core/sigv4.h"

#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/sha256.h"

namespace assay {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Trims and collapses runs of whitespace into one space (SigV4 header value rule).
std::string canonical_header_value(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out += c;
    }
  }
  return out;
}

// Removes empty, "." and ".." segments; keeps a leading and a trailing slash.
std::string normalize_path(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    start = end + 1;
  }
  std::string out = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    out += segments[i];
    if (i + 1 < segments.size()) out += '/';
  }
  bool trailing = path.size() > 1 && path.back() == '/';
  if (trailing && out.size() > 1) out += '/';
  return out;
}

std::string canonical_query(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(start, end - start);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      std::string key = pair.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      pairs.emplace_back(aws_uri_encode(percent_decode(key), false),
                         aws_uri_encode(percent_decode(value), false));
    }
    start = end + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out += '&';
    out += key + "=" + value;
  }
  return out;
}

bool is_unsigned_header(const std::string& name) {
  return name == "user-agent" || name == "expect" || name == "transfer-encoding" ||
         name == "x-amzn-trace-id" || name == "authorization";
}

}  // namespace

ParsedUrl parse_url(const std::string& url) {
  ParsedUrl parsed;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) throw_invalid("URL '" + url + "' has no scheme");
  parsed.scheme = lower(url.substr(0, scheme_end));
  if (parsed.scheme != "http" && parsed.scheme != "https") {
    throw_invalid("URL '" + url + "' must be http:// or https://");
  }
  size_t host_start = scheme_end + 3;
  size_t path_start = url.find_first_of("/?", host_start);
  parsed.host = url.substr(
      host_start, path_start == std::string::npos ? std::string::npos : path_start - host_start);
  if (parsed.host.empty()) throw_invalid("URL '" + url + "' has no host");
  if (path_start == std::string::npos) {
    parsed.path = "/";
    return parsed;
  }
  auto q = url.find('?', path_start);
  parsed.path = url.substr(path_start, q == std::string::npos ? std::string::npos : q - path_start);
  if (parsed.path.empty()) parsed.path = "/";
  if (q != std::string::npos) parsed.query = url.substr(q + 1);
  return parsed;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSAY_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                   reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
                   &len) != nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string aws_uri_encode(std::string_view text, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string percent_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string amz_date_now() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

SigV4Result sigv4_sign(HttpRequest& request, const AwsCredentials& credentials,
                       const SigV4Options& options) {
  if (options.region.empty()) throw_invalid("SigV4: no region (set AWS_REGION)");
  if (options.service.empty()) throw_invalid("SigV4: no service name");
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    throw_invalid(
        "SigV4: no AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)");
  }
  ParsedUrl url = parse_url(request.url);
  std::string amz_date = options.amz_date.empty() ? amz_date_now() : options.amz_date;
  if (amz_date.size() != 16 || amz_date[8] != 'T' || amz_date[15] != 'Z') {
    throw_invalid("SigV4: amz_date '" + amz_date + "' is not YYYYMMDDTHHMMSSZ");
  }
  std::string payload_hash = sha256_hex(request.body);

  auto set_header = [&](const std::string& name, const std::string& value) {
    auto& h = request.headers;
    h.erase(std::remove_if(h.begin(), h.end(),
                           [&](const auto& kv) { return lower(kv.first) == lower(name); }),
            h.end());
    h.emplace_back(name, value);
  };
  bool has_host = std::any_of(request.headers.begin(), request.headers.end(),
                              [](const auto& kv) { return lower(kv.first) == "host"; });
  if (!has_host) {
    std::string host = url.host;
    if ((url.scheme == "https" && host.ends_with(":443")) ||
        (url.scheme == "http" && host.ends_with(":80"))) {
      host = host.substr(0, host.rfind(':'));
    }
    request.headers.emplace_back("Host", host);
  }
  set_header("X-Amz-Date", amz_date);
  if (!credentials.session_token.empty())
    set_header("X-Amz-Security-Token", credentials.session_token);
  if (options.content_sha256_header) set_header("x-amz-content-sha256", payload_hash);

  // Canonical headers: lowercase names, sorted; duplicates joined by ',' in request order.
  std::map<std::string, std::string> canon;
  for (const auto& [name, value] : request.headers) {
    std::string key = lower(name);
    if (is_unsigned_header(key)) continue;
    std::string v = canonical_header_value(value);
    auto it = canon.find(key);
    if (it == canon.end()) {
      canon.emplace(key, v);
    } else {
      it->second += "," + v;
    }
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [key, value] : canon) {
    canonical_headers += key + ":" + value + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += key;
  }
  std::string path = options.encode_path_as_sent ? url.path : percent_decode(url.path);
  if (options.normalize_path) path = normalize_path(path);
  std::string canonical_uri = aws_uri_encode(path, true);

  SigV4Result result;
  result.canonical_request = request.method + "\n" + canonical_uri + "\n" +
                             canonical_query(url.query) + "\n" + canonical_headers + "\n" +
                             signed_headers + "\n" + payload_hash;
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + options.region + "/" + options.service + "/aws4_request";
  result.string_to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(result.canonical_request);
  std::string key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = hmac_sha256(key, options.region);
  key = hmac_sha256(key, options.service);
  key = hmac_sha256(key, "aws4_request");
  std::string signature = to_hex(hmac_sha256(key, result.string_to_sign));
  result.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
                         ", SignedHeaders=" + signed_headers + ", Signature=" + signature;
  set_header("Authorization", result.authorization);
  return result;
}

}  // namespace assay
