#include "tests/submit/fake_batch_server.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <sstream>

#include "core/sigv4.h"

namespace assay::testing {

namespace {

using nlohmann::json;

// The documented path of a successful service job (AWS Batch user guide, "Service job status").
const std::vector<std::string> kPath = {"SUBMITTED", "PENDING", "RUNNABLE", "SCHEDULED",
                                        "STARTING",  "RUNNING", "SUCCEEDED"};

void error(httplib::Response& res, int status, const std::string& type,
           const std::string& message) {
  res.status = status;
  // rest-json: the code travels in x-amzn-ErrorType, the message in the body.
  res.set_header("x-amzn-ErrorType", type + ":http://internal.amazon.com/coral/com.amazon.batch/");
  res.set_content(json{{"message", message}}.dump(), "application/json");
}

std::string field(const std::string& authorization, const std::string& name) {
  auto at = authorization.find(name + "=");
  if (at == std::string::npos) return "";
  at += name.size() + 1;
  auto end = authorization.find_first_of(", ", at);
  return authorization.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

FakeBatchServer::FakeBatchServer(std::string access_key_id, std::string secret_access_key,
                                 std::string region)
    : access_key_id_(std::move(access_key_id)),
      secret_access_key_(std::move(secret_access_key)),
      region_(std::move(region)) {
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"/v1/submitservicejob", "SubmitServiceJob"},
      {"/v1/describeservicejob", "DescribeServiceJob"},
      {"/v1/listservicejobs", "ListServiceJobs"},
      {"/v1/terminateservicejob", "TerminateServiceJob"},
      {"/v1/getjobqueuesnapshot", "GetJobQueueSnapshot"}};
  for (const auto& [path, op] : routes) {
    std::string name = op;
    server_.Post(path, [this, name](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++total_;
      }
      if (!check_signature(req, res)) return;
      handle(name, req, res);
    });
  }
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

FakeBatchServer::~FakeBatchServer() {
  server_.stop();
  thread_.join();
}

void FakeBatchServer::add_queue(const std::string& name, bool fair_share) {
  std::lock_guard<std::mutex> lock(mu_);
  queues_[name] = fair_share;
}

int FakeBatchServer::count(const std::string& op) {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_[op];
}

int FakeBatchServer::total() {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

int FakeBatchServer::auth_failures() {
  std::lock_guard<std::mutex> lock(mu_);
  return auth_failures_;
}

std::vector<json> FakeBatchServer::jobs() {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_;
}

std::vector<json> FakeBatchServer::requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

bool FakeBatchServer::check_signature(const httplib::Request& req, httplib::Response& res) {
  auto refuse = [&](const std::string& type, const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++auth_failures_;
    }
    error(res, 403, type, message);
    return false;
  };
  std::string authorization = req.get_header_value("Authorization");
  if (authorization.rfind("AWS4-HMAC-SHA256 ", 0) != 0)
    return refuse("MissingAuthenticationTokenException", "Missing Authentication Token");
  std::vector<std::string> scope = split(field(authorization, "Credential"), '/');
  if (scope.size() != 5 || scope[0] != access_key_id_) {
    return refuse("UnrecognizedClientException",
                  "The security token included in the request is invalid.");
  }
  std::string amz_date = req.get_header_value("X-Amz-Date");
  if (scope[2] != region_ || scope[3] != "batch" || scope[4] != "aws4_request" ||
      amz_date.size() != 16 || scope[1] != amz_date.substr(0, 8)) {
    return refuse("InvalidSignatureException",
                  "Credential should be scoped to a valid region and service 'batch'.");
  }
  std::tm tm{};
  if (!strptime(amz_date.c_str(), "%Y%m%dT%H%M%SZ", &tm))
    return refuse("InvalidSignatureException", "X-Amz-Date is not YYYYMMDDTHHMMSSZ");
  auto skew = std::abs(static_cast<long>(std::time(nullptr) - timegm(&tm)));
  if (skew > 15 * 60) return refuse("InvalidSignatureException", "Signature expired");

  // Recompute the signature over exactly the headers the client says it signed.
  HttpRequest again;
  again.method = req.method;
  again.url = "http://" + req.get_header_value("Host") + req.path;
  again.body = req.body;
  std::string signed_headers = field(authorization, "SignedHeaders");
  for (const auto& name : split(signed_headers, ';')) {
    if (!req.has_header(name)) return refuse("InvalidSignatureException", "no header " + name);
    again.headers.emplace_back(name, req.get_header_value(name));
  }
  SigV4Options options;
  options.region = region_;
  options.service = "batch";
  options.amz_date = amz_date;
  AwsCredentials credentials{access_key_id_, secret_access_key_, "", "fake"};
  SigV4Result expected = sigv4_sign(again, credentials, options);
  if (field(expected.authorization, "SignedHeaders") != signed_headers ||
      field(expected.authorization, "Signature") != field(authorization, "Signature")) {
    return refuse("InvalidSignatureException",
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your AWS Secret Access Key and signing method.");
  }
  return true;
}

json* FakeBatchServer::find(const std::string& job_id) {
  for (auto& job : jobs_)
    if (job["jobId"] == job_id) return &job;
  return nullptr;
}

void FakeBatchServer::set_state(json& job, const std::string& status) {
  int64_t now = clock_ms_;
  job["status"] = status;
  auto at = std::find(kPath.begin(), kPath.end(), status);
  size_t step = at == kPath.end() ? kPath.size() : static_cast<size_t>(at - kPath.begin());
  // SageMaker's training job exists once Batch has scheduled the job.
  if ((step >= 3 || status == "FAILED") && !job.contains("latestAttempt") && step < kPath.size()) {
    json payload = json::parse(job["serviceRequestPayload"].get<std::string>());
    json resource = {{"name", "TrainingJobArn"},
                     {"value", "arn:aws:sagemaker:" + region_ + ":123456789012:training-job/" +
                                   payload.value("TrainingJobName", std::string())}};
    job["latestAttempt"] = {{"serviceResourceId", resource}};
    job["attempts"] = json::array({{{"serviceResourceId", resource}, {"startedAt", now}}});
    job["scheduledAt"] = now;
  }
  if (status == "RUNNING") job["startedAt"] = now;
  if (status == "SUCCEEDED" || status == "FAILED") {
    job["stoppedAt"] = now;
    if (job.contains("attempts") && !job["attempts"].empty()) job["attempts"][0]["stoppedAt"] = now;
  }
  if (status == "SUCCEEDED") job["statusReason"] = "Essential container in task exited";
}

void FakeBatchServer::advance(const std::string& job_id, int steps) {
  std::lock_guard<std::mutex> lock(mu_);
  json* job = find(job_id);
  if (!job) return;
  for (int i = 0; i < steps; ++i) {
    auto at = std::find(kPath.begin(), kPath.end(), (*job)["status"].get<std::string>());
    if (at == kPath.end() || at + 1 == kPath.end()) return;
    set_state(*job, *(at + 1));
  }
}

void FakeBatchServer::set_status(const std::string& job_id, const std::string& status,
                                 const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  json* job = find(job_id);
  if (!job) return;
  set_state(*job, status);
  if (!reason.empty()) (*job)["statusReason"] = reason;
}

json FakeBatchServer::summary(const json& job) const {
  json s = json::object();
  for (const char* k :
       {"latestAttempt", "createdAt", "jobArn", "jobId", "jobName", "scheduledAt", "serviceJobType",
        "shareIdentifier", "status", "statusReason", "startedAt", "stoppedAt"}) {
    if (job.contains(k)) s[k] = job[k];
  }
  return s;
}

void FakeBatchServer::handle(const std::string& op, const httplib::Request& req,
                             httplib::Response& res) {
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception&) {
    return error(res, 400, "SerializationException", "body is not JSON");
  }
  if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0)
    return error(res, 400, "ClientException", "Content-Type must be application/json");
  if (op == "SubmitServiceJob" && submit_delay_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(submit_delay_ms));
  std::lock_guard<std::mutex> lock(mu_);
  counts_[op]++;
  requests_.push_back(
      {{"service", "batch"}, {"method", req.method}, {"path", req.path}, {"body", body}});
  auto reply = [&](const json& j) { res.set_content(j.dump(), "application/json"); };

  if (op == "SubmitServiceJob") {
    for (const char* k : {"jobName", "jobQueue", "serviceJobType", "serviceRequestPayload"}) {
      if (!body.contains(k) || !body[k].is_string())
        return error(res, 400, "ClientException", std::string(k) + " is required");
    }
    std::string queue = body["jobQueue"];
    std::string qname =
        queue.substr(queue.rfind('/') == std::string::npos ? 0 : queue.rfind('/') + 1);
    auto q = queues_.find(qname);
    if (q == queues_.end())
      return error(res, 400, "ClientException", "Job queue " + queue + " does not exist");
    if (body["serviceJobType"] != "SAGEMAKER_TRAINING")
      return error(res, 400, "ClientException", "serviceJobType must be SAGEMAKER_TRAINING");
    if (q->second != body.contains("shareIdentifier")) {
      return error(res, 400, "ClientException",
                   q->second ? "shareIdentifier is required for a fair-share job queue"
                             : "shareIdentifier is not allowed for a FIFO job queue");
    }
    int64_t priority = body.value("schedulingPriority", int64_t{0});
    if (priority < 0 || priority > 9999)
      return error(res, 400, "ClientException", "schedulingPriority must be 0..9999");
    try {
      json payload = json::parse(body["serviceRequestPayload"].get<std::string>());
      if (!payload.contains("TrainingJobName") || !payload.contains("RoleArn"))
        return error(res, 400, "ClientException", "payload lacks TrainingJobName/RoleArn");
    } catch (const json::exception&) {
      return error(res, 400, "ClientException", "serviceRequestPayload is not JSON");
    }
    std::string token = body.value("clientToken", std::string());
    json without_token = body;
    without_token.erase("clientToken");
    if (!token.empty() && by_token_.count(token)) {
      if (reject_duplicate_token || token_body_[token] != without_token.dump()) {
        return error(res, 400, "ClientException",
                     "Idempotent request rejected: clientToken " + token + " was already used");
      }
      json* job = find(by_token_[token]);
      return reply({{"jobArn", (*job)["jobArn"]},
                    {"jobName", (*job)["jobName"]},
                    {"jobId", (*job)["jobId"]}});
    }
    std::string id = "f" + std::to_string(jobs_.size() + 1) + "-0000-4000-8000-00000000000" +
                     std::to_string(jobs_.size() % 10);
    json job = body;
    job.erase("clientToken");
    job["jobId"] = id;
    job["jobArn"] = "arn:aws:batch:" + region_ + ":123456789012:service-job/" + id;
    job["createdAt"] = clock_ms_;
    job["startedAt"] = clock_ms_;  // required in the model; the real start replaces it
    job["isTerminated"] = false;
    clock_ms_ += 1000;
    set_state(job, "SUBMITTED");
    jobs_.push_back(job);
    if (!token.empty()) {
      by_token_[token] = id;
      token_body_[token] = without_token.dump();
    }
    return reply({{"jobArn", job["jobArn"]}, {"jobName", job["jobName"]}, {"jobId", id}});
  }
  if (op == "DescribeServiceJob") {
    json* job = find(body.value("jobId", std::string()));
    if (!job) return error(res, 400, "ClientException", "Job does not exist");
    if (advance_on_describe) {
      auto at = std::find(kPath.begin(), kPath.end(), (*job)["status"].get<std::string>());
      if (at != kPath.end() && at + 1 != kPath.end()) set_state(*job, *(at + 1));
    }
    return reply(*job);
  }
  if (op == "TerminateServiceJob") {
    json* job = find(body.value("jobId", std::string()));
    if (!job) return error(res, 400, "ClientException", "Job does not exist");
    if (!body.contains("reason")) return error(res, 400, "ClientException", "reason is required");
    if ((*job)["status"] != "SUCCEEDED" && (*job)["status"] != "FAILED") {
      set_state(*job, "FAILED");
      (*job)["statusReason"] = body["reason"];
      (*job)["isTerminated"] = true;
    }
    return reply(json::object());
  }
  if (op == "ListServiceJobs") {
    std::string queue = body.value("jobQueue", std::string());
    std::vector<json> hits;
    for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {  // newest first
      const json& job = *it;
      if (!queue.empty() && job["jobQueue"] != queue) continue;
      if (body.contains("filters") && !body["filters"].empty()) {
        const json& f = body["filters"][0];
        std::string value = lower(f["values"][0].get<std::string>());
        std::string name = lower(job["jobName"].get<std::string>());
        if (f["name"] == "JOB_NAME") {
          bool prefix = !value.empty() && value.back() == '*';
          if (prefix ? name.rfind(value.substr(0, value.size() - 1), 0) != 0 : name != value)
            continue;
        } else {
          return error(res, 400, "ClientException", "filter not supported by the fake");
        }
      } else if (job["status"] != body.value("jobStatus", std::string("RUNNING"))) {
        continue;  // without a filter: only jobStatus (RUNNING when absent)
      }
      hits.push_back(summary(job));
    }
    size_t start =
        body.contains("nextToken") ? std::stoul(body["nextToken"].get<std::string>()) : 0;
    size_t n =
        static_cast<size_t>(std::min<int64_t>(body.value("maxResults", int64_t{100}), page_size));
    json page = {{"jobSummaryList", json::array()}};
    for (size_t i = start; i < hits.size() && i < start + n; ++i)
      page["jobSummaryList"].push_back(hits[i]);
    if (start + n < hits.size()) page["nextToken"] = std::to_string(start + n);
    return reply(page);
  }
  if (op == "GetJobQueueSnapshot") {
    if (snapshot_denied)
      return error(res, 403, "AccessDeniedException", "not authorized: batch:GetJobQueueSnapshot");
    std::string queue = body.value("jobQueue", std::string());
    std::vector<json> runnable;
    std::map<std::string, double> instances;  // share -> instances in use
    for (const auto& job : jobs_) {
      if (job["jobQueue"] != queue) continue;
      std::string status = job["status"];
      if (status == "RUNNABLE") runnable.push_back(job);
      if (status == "SCHEDULED" || status == "STARTING" || status == "RUNNING") {
        json payload = json::parse(job["serviceRequestPayload"].get<std::string>());
        instances[job.value("shareIdentifier", std::string())] +=
            payload["ResourceConfig"].value("InstanceCount", 1.0);
      }
    }
    // The fake's dispatch order: higher schedulingPriority first, then older first.
    std::stable_sort(runnable.begin(), runnable.end(), [](const json& a, const json& b) {
      int64_t pa = a.value("schedulingPriority", int64_t{0});
      int64_t pb = b.value("schedulingPriority", int64_t{0});
      if (pa != pb) return pa > pb;
      return a["createdAt"].get<int64_t>() < b["createdAt"].get<int64_t>();
    });
    json front = json::array();
    for (const auto& job : runnable)
      front.push_back({{"jobArn", job["jobArn"]}, {"earliestTimeAtPosition", job["createdAt"]}});
    json top = json::array();
    for (const auto& [share, n] : instances) {
      top.push_back(
          {{"shareIdentifier", share},
           {"capacityUsage", json::array({{{"capacityUnit", "NUM_INSTANCES"}, {"quantity", n}}})}});
    }
    return reply({{"frontOfQueue", {{"jobs", front}, {"lastUpdatedAt", clock_ms_}}},
                  {"queueUtilization",
                   {{"fairshareUtilization",
                     {{"activeShareCount", instances.size()}, {"topCapacityUtilization", top}}},
                    {"lastUpdatedAt", clock_ms_}}}});
  }
  error(res, 400, "UnknownOperationException", op);
}

}  // namespace assay::testing
