// SigV4 against AWS's official test suite (tests/data/aws-sigv4-test-suite, Apache-2.0, from
// botocore) and the SageMaker and Bedrock vectors computed with botocore's SigV4Auth.
#include "core/sigv4.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"

namespace assay {
namespace {

namespace fs = std::filesystem;

const fs::path kSuite = fs::path(ASSAY_SOURCE_DIR) / "tests/data/aws-sigv4-test-suite";

// Escapes what cannot appear raw in a URL (space, non-ASCII), keeping existing %XX as they are.
std::string to_wire(const std::string& target) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

struct SuiteCase {
  std::string name;
  fs::path dir;
};

std::vector<SuiteCase> all_cases() {
  std::vector<SuiteCase> cases;
  for (const auto& entry : fs::recursive_directory_iterator(kSuite)) {
    if (entry.path().extension() == ".req") {
      cases.push_back({entry.path().stem().string(), entry.path().parent_path()});
    }
  }
  std::sort(cases.begin(), cases.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return cases;
}

// Parses a .req file: request line, headers (continuation lines joined by a space), body.
HttpRequest parse_req(const std::string& text) {
  HttpRequest request;
  size_t line_end = text.find('\n');
  std::string first = text.substr(0, line_end);
  request.method = first.substr(0, first.find(' '));
  std::string target =
      first.substr(first.find(' ') + 1, first.rfind(" HTTP/") - first.find(' ') - 1);
  request.url = "https://example.amazonaws.com" + to_wire(target);
  size_t pos = line_end == std::string::npos ? text.size() : line_end + 1;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      request.body = pos < text.size() ? text.substr(pos) : "";
      break;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      request.headers.back().second += " " + line;
    } else {
      auto colon = line.find(':');
      request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
  }
  return request;
}

TEST(SigV4Test, SuiteHasAllCases) {
  // 24 top-level cases + 8 normalize-path + 2 post-sts-token (botocore's copy).
  EXPECT_EQ(all_cases().size(), 34u);
}

TEST(SigV4Test, PassesEveryCaseOfTheOfficialSuite) {
  auto cases = all_cases();
  ASSERT_FALSE(cases.empty()) << "suite missing at " << kSuite;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path base = c.dir / c.name;
    HttpRequest request = parse_req(read_file(base.string() + ".req"));
    std::string creq = read_file(base.string() + ".creq");
    AwsCredentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", "test"};
    // As botocore's test_sigv4.py: the session token comes from the canonical request, and the
    // header is then produced by the signer, not copied from the .req.
    auto token_at = creq.find("\nx-amz-security-token:");
    if (token_at != std::string::npos) {
      size_t start = token_at + std::string("\nx-amz-security-token:").size();
      creds.session_token = creq.substr(start, creq.find('\n', start) - start);
      std::erase_if(request.headers, [](const auto& kv) {
        std::string k = kv.first;
        for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return k == "x-amz-security-token";
      });
    }
    SigV4Options options{"us-east-1", "service", "20150830T123600Z"};
    SigV4Result result = sigv4_sign(request, creds, options);
    EXPECT_EQ(result.canonical_request, creq);
    EXPECT_EQ(result.string_to_sign, read_file(base.string() + ".sts"));
    EXPECT_EQ(result.authorization, read_file(base.string() + ".authz"));
  }
}

TEST(SigV4Test, MatchesBotocoreSageMakerVector) {
  HttpRequest request;
  request.method = "POST";
  request.url = "https://api.sagemaker.us-east-1.amazonaws.com/";
  request.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                     {"X-Amz-Target", "SageMaker.DescribeProcessingJob"}};
  request.body = R"({"ProcessingJobName":"llm-eval-abc123"})";
  AwsCredentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SESSIONTOKEN",
                       "test"};
  SigV4Result result = sigv4_sign(request, creds, {"us-east-1", "sagemaker", "20250101T000000Z"});
  EXPECT_TRUE(result.canonical_request.ends_with(
      "content-type;host;x-amz-date;x-amz-security-token;x-amz-target\n"
      "33a62bdd2e24464fd00530a1be204359ee207068ec7919ce2f34e3ab2b3d08f2"));
  EXPECT_TRUE(result.string_to_sign.ends_with(
      "\n2a39ab05929ddd560959961582844a2ae7cf2464bb0e276126b9ba52bd9122d0"));
  EXPECT_TRUE(result.authorization.ends_with(
      "Signature=013a1de658d65798d287d95c0aab86578a00ee8cec988c7582a5ca1916cc5890"));
  bool has_token = false;
  for (const auto& [k, v] : request.headers)
    has_token |= (k == "X-Amz-Security-Token" && v == "SESSIONTOKEN");
  EXPECT_TRUE(has_token);
}

// A Bedrock Converse request whose model id (a cross-region inference profile) carries ':' as
// %3A on the wire: botocore signs the path encoded once more (%253A). The expected values were
// computed with botocore 1.43.11's SigV4Auth (canonical_request, signature) for this request.
TEST(SigV4Test, MatchesBotocoreBedrockVectorWithAnEncodedModelId) {
  HttpRequest request;
  request.method = "POST";
  request.url =
      "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
      "us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse";
  request.headers = {{"Content-Type", "application/json"}};
  request.body = R"({"messages":[]})";
  AwsCredentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SESSIONTOKEN",
                       "test"};
  SigV4Options options{"us-east-1", "bedrock", "20250101T000000Z"};
  options.encode_path_as_sent = true;
  SigV4Result result = sigv4_sign(request, creds, options);
  EXPECT_EQ(result.canonical_request,
            "POST\n/model/us.anthropic.claude-3-5-sonnet-20241022-v2%253A0/converse\n\n"
            "content-type:application/json\nhost:bedrock-runtime.us-east-1.amazonaws.com\n"
            "x-amz-date:20250101T000000Z\nx-amz-security-token:SESSIONTOKEN\n\n"
            "content-type;host;x-amz-date;x-amz-security-token\n"
            "5e4ce7b36ba37b78a5d5f9fd08e6b7b54ba6879d651aa46ec9e1d6fa24ebe30a");
  EXPECT_TRUE(result.authorization.ends_with(
      "Signature=93343a5264aed74fe4378bec352e21f5af6e9b265a8d370b55b960ce57940250"));
}

TEST(SigV4Test, S3ContentHashHeaderIsSignedAndPathNotNormalised) {
  HttpRequest request;
  request.method = "PUT";
  request.url = "http://127.0.0.1:9000/bucket/a//b/./c.txt";
  request.body = "hello";
  SigV4Options options{"us-east-1", "s3", "20150830T123600Z", false, true};
  SigV4Result result = sigv4_sign(request, {"AK", "SECRET", "", "t"}, options);
  // SHA-256("hello") from coreutils sha256sum.
  EXPECT_NE(result.canonical_request.find(
                "x-amz-content-sha256:"
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n"),
            std::string::npos);
  EXPECT_EQ(result.canonical_request.substr(0, result.canonical_request.find('\n', 4)),
            "PUT\n/bucket/a//b/./c.txt");
  EXPECT_NE(result.canonical_request.find("host:127.0.0.1:9000\n"), std::string::npos);
}

TEST(SigV4Test, RejectsMissingCredentials) {
  HttpRequest request;
  request.url = "https://example.amazonaws.com/";
  EXPECT_THROW(sigv4_sign(request, {}, {"us-east-1", "service", ""}), Error);
}

}  // namespace
}  // namespace assay
