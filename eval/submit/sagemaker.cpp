#include "eval/submit/sagemaker.h"

#include "core/log.h"
#include "eval/submit/job_spec.h"

namespace assay::submit {

namespace {

class AwsSageMaker : public SageMakerApi {
 public:
  explicit AwsSageMaker(AwsClient* client) : client_(client) {}

  std::optional<nlohmann::json> describe(const std::string& name) override {
    try {
      return client_->call_json("sagemaker", "SageMaker.DescribeProcessingJob",
                                {{"ProcessingJobName", name}});
    } catch (const AwsError& e) {
      if (e.code() == "ValidationException" || e.code() == "ResourceNotFound") return std::nullopt;
      throw;
    }
  }
  std::string create(const nlohmann::json& request) override {
    auto answer = client_->call_json("sagemaker", "SageMaker.CreateProcessingJob", request);
    return answer.value("ProcessingJobArn", std::string());
  }
  void stop(const std::string& name) override {
    client_->call_json("sagemaker", "SageMaker.StopProcessingJob", {{"ProcessingJobName", name}});
  }
  nlohmann::json list(const nlohmann::json& request) override {
    return client_->call_json("sagemaker", "SageMaker.ListProcessingJobs", request);
  }

 private:
  AwsClient* client_;
};

class DryRunSageMaker : public SageMakerApi {
 public:
  explicit DryRunSageMaker(std::ostream* out) : out_(out) {}
  std::optional<nlohmann::json> describe(const std::string& name) override {
    print("DescribeProcessingJob", {{"ProcessingJobName", name}});
    return std::nullopt;
  }
  std::string create(const nlohmann::json& request) override {
    print("CreateProcessingJob", request);
    return "arn:aws:sagemaker:dry-run:000000000000:processing-job/" +
           request.value("ProcessingJobName", std::string());
  }
  void stop(const std::string& name) override {
    print("StopProcessingJob", {{"ProcessingJobName", name}});
  }
  nlohmann::json list(const nlohmann::json& request) override {
    print("ListProcessingJobs", request);
    return {{"ProcessingJobSummaries", nlohmann::json::array()}};
  }

 private:
  void print(const std::string& op, const nlohmann::json& body) {
    nlohmann::json line = {
        {"service", "sagemaker"}, {"target", "SageMaker." + op}, {"body", redact_request(body)}};
    *out_ << line.dump() << "\n";
  }
  std::ostream* out_;
};

void redact_strings(nlohmann::json& j) {
  if (j.is_string()) {
    j = log::redact(j.get<std::string>());
  } else if (j.is_structured()) {
    for (auto& item : j) redact_strings(item);
  }
}

}  // namespace

nlohmann::json redact_request(nlohmann::json body) {
  if (body.contains("Environment") && body["Environment"].is_object()) {
    for (auto& [k, v] : body["Environment"].items()) {
      if (is_secret_env_name(k) && v.is_string() && !v.get<std::string>().empty()) v = "***";
    }
  }
  redact_strings(body);
  return body;
}

std::unique_ptr<SageMakerApi> make_aws_sagemaker(AwsClient* client) {
  return std::make_unique<AwsSageMaker>(client);
}
std::unique_ptr<SageMakerApi> make_dry_run_sagemaker(std::ostream* out) {
  return std::make_unique<DryRunSageMaker>(out);
}

}  // namespace assay::submit
