// Service endpoints: the public AWS URL for a region, unless AWS_ENDPOINT_URL_<SERVICE> or
// AWS_ENDPOINT_URL overrides it (as the AWS SDKs do); used to point evalctl at moto or a fake.
#pragma once

#include <string>

#include "core/aws_credentials.h"

namespace assay {

struct AwsEndpoint {
  std::string
      url;  // base URL without trailing slash, e.g. "https://api.sagemaker.us-east-1.amazonaws.com"
  bool custom = false;  // true when taken from an AWS_ENDPOINT_URL* variable
};

// `service` is "sagemaker", "sagemaker-runtime", "bedrock-runtime", "s3", "logs" or "batch".
// Overrides: AWS_ENDPOINT_URL_SAGEMAKER, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME,
// AWS_ENDPOINT_URL_BEDROCK_RUNTIME,
// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL_BATCH, then
// AWS_ENDPOINT_URL. Throws
// assay::Error (invalid input) for an unknown service or, without an override, an empty region.
AwsEndpoint resolve_aws_endpoint(const std::string& service, const std::string& region,
                                 const EnvLookup& env);

}  // namespace assay
