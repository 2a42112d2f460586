// The small synchronous HTTP transport the AWS code talks to: one request in, one response out.
// An interface so tests inject a fake; CurlAwsHttp is the libcurl implementation. To be replaced
// by the shared core/http_client.h once that lands (the interface stays).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace assay {

// Header list in send order; names keep their case, duplicates are allowed.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct AwsHttpRequest {
  std::string method = "GET";  // GET, PUT, POST, HEAD, DELETE
  std::string url;             // absolute, already percent-encoded (what goes on the wire)
  HttpHeaders headers;         // sent as given (the signer adds its own)
  std::string body;            // empty means no body
};

struct AwsHttpResponse {
  long status = 0;      // HTTP status; 0 never escapes send() (transport errors throw)
  HttpHeaders headers;  // response headers, names lowercased
  std::string body;     // full body

  // Value of the first header named `name` (lowercase), or empty.
  std::string header(const std::string& name) const;
};

// A synchronous transport. send() returns any HTTP status as a value and throws assay::Error
// (remote) only when no response came back (connection refused, timeout), naming the URL.
class AwsHttp {
 public:
  virtual ~AwsHttp() = default;
  virtual AwsHttpResponse send(const AwsHttpRequest& request) = 0;
};

struct CurlAwsHttpOptions {
  long connect_timeout_s = 10;  // connection phase limit; 0 means curl's default
  long timeout_s = 300;         // whole-transfer limit; 0 means none
};

// libcurl easy-interface transport; one handle per call, so it is safe from several threads.
std::unique_ptr<AwsHttp> make_curl_aws_http(const CurlAwsHttpOptions& options = {});

// Percent-encodes `text` per RFC 3986 as SigV4 wants: unreserved A-Z a-z 0-9 - . _ ~ stay,
// every other byte becomes %XX (uppercase hex); '/' stays when `keep_slash` is true.
std::string aws_uri_encode(std::string_view text, bool keep_slash);

// Decodes %XX sequences (a malformed '%' is kept as is). '+' stays '+'.
std::string percent_decode(std::string_view text);

}  // namespace assay
