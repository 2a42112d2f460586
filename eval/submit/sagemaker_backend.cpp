// The default backend: the evaluation as a SageMaker Processing job (submit.h, sagemaker.h).
#include <memory>

#include "core/error.h"
#include "eval/submit/aws_client.h"
#include "eval/submit/backend.h"
#include "eval/submit/job_output.h"
#include "eval/submit/sagemaker.h"

namespace assay::submit {

namespace {

class SageMakerBackend final : public Backend {
 public:
  explicit SageMakerBackend(const BackendArgs& args) : args_(args) {}

  int submit(const JobSpec& spec, const std::string& origin) override {
    validate_job_spec(spec, origin, args_.options.allow_plaintext_secrets);  // before credentials
    if (args_.options.dry_run) {
      auto sagemaker = make_dry_run_sagemaker(args_.out);
      S3 s3(nullptr, args_.out);
      SubmitOptions options = args_.options;
      options.lock_dir.clear();
      options.wait = false;
      return run_submit(spec, origin, *sagemaker, s3, options, *args_.err);
    }
    connect();
    S3 s3(aws_.client.get(), nullptr);
    return run_submit(spec, origin, *sagemaker_, s3, args_.options, *args_.out);
  }
  int status(const std::string& name) override {
    connect();
    return print_status(*sagemaker_, name, *args_.out);
  }
  int wait(const std::string& name) override {
    connect();
    return wait_for_job(*sagemaker_, name, args_.options, *args_.out);
  }
  int stop(const std::string& name) override {
    connect();
    sagemaker_->stop(name);
    return print_status(*sagemaker_, name, *args_.out);
  }
  int list(const ListQuery& query) override {
    connect();
    return list_processing_jobs(*sagemaker_, query, *args_.out);
  }
  int logs(const std::string& name) override {
    connect();
    print_job_logs(*aws_.client, kProcessingLogGroup, name, *args_.out);
    return kExitOk;
  }
  int results(const std::string& name, const std::filesystem::path& dest) override {
    connect();
    S3 s3(aws_.client.get(), nullptr);
    int n = download_results(*sagemaker_, s3, name, dest);
    *args_.out << nlohmann::json{{"job", name}, {"files", n}, {"dest", dest.string()}}.dump()
               << "\n";
    return kExitOk;
  }

 private:
  // Credentials, region and endpoints are looked up only when a call is about to be made.
  void connect() {
    if (sagemaker_) return;
    aws_ = connect_aws_from_env();
    sagemaker_ = make_aws_sagemaker(aws_.client.get());
  }

  BackendArgs args_;
  AwsConnection aws_;
  std::unique_ptr<SageMakerApi> sagemaker_;
};

}  // namespace

BackendInfo sagemaker_backend_info() {
  return {
      "sagemaker", "a SageMaker Processing job (the default)", {}, make_backend<SageMakerBackend>};
}

}  // namespace assay::submit
