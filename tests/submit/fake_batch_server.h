// A local AWS Batch service-job endpoint for tests (cpp-httplib, real HTTP on 127.0.0.1), since
// moto has no SubmitServiceJob. It checks every request's SigV4 signature with the credentials it
// was given (unknown key -> 403 UnrecognizedClientException, bad signature or a date more than 15
// minutes off -> 403 InvalidSignatureException), replays the documented service-job states
// SUBMITTED -> PENDING -> RUNNABLE -> SCHEDULED -> STARTING -> RUNNING -> SUCCEEDED (the training
// job ARN appears at SCHEDULED), honours clientToken (a resubmission with the same token and
// payload is not queued twice) and answers ListServiceJobs (JOB_NAME filter, jobStatus, pages),
// DescribeServiceJob, TerminateServiceJob and GetJobQueueSnapshot.
#pragma once

#include <httplib.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace assay::testing {

class FakeBatchServer {
 public:
  FakeBatchServer(std::string access_key_id, std::string secret_access_key,
                  std::string region = "us-east-1");
  ~FakeBatchServer();
  FakeBatchServer(const FakeBatchServer&) = delete;
  FakeBatchServer& operator=(const FakeBatchServer&) = delete;

  int port() const { return port_; }

  // Queues that exist; a fair-share queue requires shareIdentifier, a FIFO one refuses it.
  void add_queue(const std::string& name, bool fair_share);

  // Moves job `job_id` `steps` states along the documented path (stops at SUCCEEDED).
  void advance(const std::string& job_id, int steps = 1);
  // Sets a job's state directly (e.g. FAILED with a reason).
  void set_status(const std::string& job_id, const std::string& status,
                  const std::string& reason = "");

  // Requests per operation ("SubmitServiceJob", ...), counted after the signature check.
  int count(const std::string& op);
  // Every request that reached the server, signed or not.
  int total();
  // Requests refused for their signature or key.
  int auth_failures();
  // Every job's record (as DescribeServiceJob returns it), oldest first.
  std::vector<nlohmann::json> jobs();
  // Every correctly signed request, in evalctl's dry-run line format
  // {"service": "batch", "method", "path", "body"} (for validate_batch_request.py).
  std::vector<nlohmann::json> requests();

  // Knobs, set before the calls they affect.
  bool advance_on_describe = false;     // each DescribeServiceJob moves the job one state on
  bool reject_duplicate_token = false;  // a repeated clientToken gets ClientException (the API
                                        // reference's wording) instead of the original job
  bool snapshot_denied = false;         // GetJobQueueSnapshot answers 403 AccessDeniedException
  int submit_delay_ms = 0;              // widens race windows in SubmitServiceJob
  int page_size = 100;                  // ListServiceJobs page size (nextToken beyond it)

 private:
  void handle(const std::string& op, const httplib::Request& req, httplib::Response& res);
  bool check_signature(const httplib::Request& req, httplib::Response& res);
  nlohmann::json summary(const nlohmann::json& job) const;
  nlohmann::json* find(const std::string& job_id);
  void set_state(nlohmann::json& job, const std::string& status);

  std::string access_key_id_, secret_access_key_, region_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::map<std::string, bool> queues_;             // name -> fair share
  std::vector<nlohmann::json> jobs_;               // oldest first
  std::vector<nlohmann::json> requests_;           // signed requests as dry-run lines
  std::map<std::string, std::string> by_token_;    // clientToken -> jobId
  std::map<std::string, std::string> token_body_;  // clientToken -> request body (minus token)
  std::map<std::string, int> counts_;
  int total_ = 0;
  int auth_failures_ = 0;
  int64_t clock_ms_ = 1795312130000;  // createdAt of the next job; +1000 per job
};

}  // namespace assay::testing
