#include "core/aws_endpoint.h"

#include "core/error.h"

namespace assay {

AwsEndpoint resolve_aws_endpoint(const std::string& service, const std::string& region,
                                 const EnvLookup& env) {
  std::string variable, host;
  if (service == "sagemaker") {
    variable = "AWS_ENDPOINT_URL_SAGEMAKER";
    host = "api.sagemaker." + region + ".amazonaws.com";
  } else if (service == "sagemaker-runtime") {  // InvokeEndpoint (signing name "sagemaker")
    variable = "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME";
    host = "runtime.sagemaker." + region + ".amazonaws.com";
  } else if (service == "bedrock-runtime") {  // Converse / InvokeModel (signing name "bedrock")
    variable = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME";
    host = "bedrock-runtime." + region + ".amazonaws.com";
  } else if (service == "s3") {
    variable = "AWS_ENDPOINT_URL_S3";
    host = "s3." + region + ".amazonaws.com";
  } else if (service == "batch") {
    variable = "AWS_ENDPOINT_URL_BATCH";
    host = "batch." + region + ".amazonaws.com";
  } else if (service == "logs") {
    variable = "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS";
    host = "logs." + region + ".amazonaws.com";
  } else {
    throw_invalid("unknown AWS service '" + service + "'");
  }
  for (const std::string& name : {variable, std::string("AWS_ENDPOINT_URL")}) {
    if (auto url = env(name)) {
      std::string u = *url;
      while (!u.empty() && u.back() == '/') u.pop_back();
      if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
        throw_invalid(name + ": '" + *url + "' must start with http:// or https://");
      }
      return {u, true};
    }
  }
  if (region.empty())
    throw_invalid("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile region)");
  return {"https://" + host, false};
}

}  // namespace assay
