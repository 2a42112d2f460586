// The SageMaker Processing API as evalctl uses it, behind an interface (tests inject fakes):
// the AWS JSON-1.1 implementation, and a dry-run one that prints each request instead.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "eval/submit/aws_client.h"

namespace assay::submit {

class SageMakerApi {
 public:
  virtual ~SageMakerApi() = default;
  // DescribeProcessingJob; nullopt when the job does not exist (ValidationException or
  // ResourceNotFound, as botocore's waiter treats them). Throws AwsError otherwise.
  virtual std::optional<nlohmann::json> describe(const std::string& name) = 0;
  // CreateProcessingJob with a full request body; returns ProcessingJobArn. Throws AwsError
  // (code "ResourceInUse" when the name exists).
  virtual std::string create(const nlohmann::json& request) = 0;
  // StopProcessingJob. Throws AwsError.
  virtual void stop(const std::string& name) = 0;
  // ListProcessingJobs with a request body (NameContains, StatusEquals, MaxResults, NextToken).
  virtual nlohmann::json list(const nlohmann::json& request) = 0;
};

// Sends through `client` (not owned).
std::unique_ptr<SageMakerApi> make_aws_sagemaker(AwsClient* client);

// Prints {"service":"sagemaker","target":"SageMaker.X","body":{...}} lines to `out` (secret-like
// Environment values replaced by "***"); describe answers "no such job", create a placeholder ARN.
std::unique_ptr<SageMakerApi> make_dry_run_sagemaker(std::ostream* out);

// Replaces values of secret-like Environment names (is_secret_env_name) with "***" in a
// CreateProcessingJob body, and runs every string through the log redactor.
nlohmann::json redact_request(nlohmann::json body);

}  // namespace assay::submit
