// AWS Signature Version 4 for request headers: canonical request, string to sign, signing key
// and the Authorization header, as specified by AWS and checked against the official test suite.
#pragma once

#include <string>
#include <string_view>

#include "core/http_client.h"

namespace assay {

// Static credentials; session_token is empty for long-term keys.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string source;  // where they came from ("environment", "profile default", ...), for logs
};

struct SigV4Options {
  std::string region;                  // e.g. "us-east-1"; required
  std::string service;                 // signing name, e.g. "sagemaker", "s3", "logs"; required
  std::string amz_date;                // "YYYYMMDDTHHMMSSZ"; empty means now (UTC)
  bool normalize_path = true;          // remove "." / ".." / empty segments (false for S3)
  bool content_sha256_header = false;  // add and sign x-amz-content-sha256 (S3 wants it)
  // Canonical URI from the path as sent, percent-encoded once more, as AWS and botocore sign a
  // REST path with an encoded label: Bedrock's "/model/m%3A0/converse" signs as ".../m%253A0/...".
  // false: the path is percent-decoded first, then encoded once (the official test suite's form).
  bool encode_path_as_sent = false;
};

// What signing produced; the request itself carries the added headers.
struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string authorization;  // the Authorization header value
};

// Signs `request` in place: adds Host (when missing), X-Amz-Date, X-Amz-Security-Token (when the
// credentials have a token), x-amz-content-sha256 (when asked) and Authorization. Every header
// present on the request is signed except user-agent, expect, transfer-encoding, x-amzn-trace-id.
// The canonical URI is the percent-decoded path, normalised unless told not to, encoded once
// (or the path as sent encoded once more, with encode_path_as_sent);
// the canonical query sorts by encoded key, then value. Throws assay::Error (invalid input) on a
// URL it cannot parse or missing region/service/credentials.
SigV4Result sigv4_sign(HttpRequest& request, const AwsCredentials& credentials,
                       const SigV4Options& options);

// Percent-encodes `text` per RFC 3986 as SigV4 wants: unreserved A-Z a-z 0-9 - . _ ~ stay,
// every other byte becomes %XX (uppercase hex); '/' stays when `keep_slash` is true.
std::string aws_uri_encode(std::string_view text, bool keep_slash);

// Decodes %XX sequences (a malformed '%' is kept as is). '+' stays '+'.
std::string percent_decode(std::string_view text);

// The current UTC time as "YYYYMMDDTHHMMSSZ".
std::string amz_date_now();

// HMAC-SHA256 of `data` with `key`, raw 32 bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

// Parts of an absolute http(s) URL. Throws assay::Error (invalid input) naming the URL.
struct ParsedUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // host[:port] as written (port omitted when absent)
  std::string path;    // still encoded; "/" when empty
  std::string query;   // after '?', still encoded; empty when none
};
ParsedUrl parse_url(const std::string& url);

}  // namespace assay
