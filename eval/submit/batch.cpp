#include "eval/submit/batch.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "eval/submit/job_lock.h"
#include "eval/submit/job_output.h"
#include "eval/submit/limits.h"

namespace assay::submit {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Batch service-job states (botocore 1.43 ServiceJobStatus), in the order a job goes through.
const std::vector<std::string> kStatuses = {"SUBMITTED", "PENDING", "RUNNABLE",  "SCHEDULED",
                                            "STARTING",  "RUNNING", "SUCCEEDED", "FAILED"};

bool is_terminal(const std::string& status) {
  return status == "SUCCEEDED" || status == "FAILED";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

fs::path local_input_path(const JobSpec& spec, const JobInput& input) {
  fs::path p(input.source);
  return p.is_absolute() ? p : spec.base_dir / p;
}

// Attempt number of `name` for base name `base`: 1 for base, N for base-rN, 0 otherwise.
int attempt_of(const std::string& name, const std::string& base) {
  if (name == base) return 1;
  if (name.size() <= base.size() + 2 || name.compare(0, base.size(), base) != 0 ||
      name.compare(base.size(), 2, "-r") != 0) {
    return 0;
  }
  std::string digits = name.substr(base.size() + 2);
  if (digits.empty() || digits.size() > 2 ||
      !std::all_of(digits.begin(), digits.end(), ::isdigit)) {
    return 0;
  }
  return std::stoi(digits);
}

// Every job summary of `queue` whose name starts with `prefix` (JOB_NAME filter "prefix*"; the
// filter is case-insensitive, so callers compare names exactly). All pages.
std::vector<json> list_by_name(BatchApi& batch, const std::string& queue,
                               const std::string& prefix) {
  json request = {{"jobQueue", queue},
                  {"filters", json::array({{{"name", "JOB_NAME"}, {"values", {prefix + "*"}}}})},
                  {"maxResults", 100}};
  std::vector<json> out;
  for (;;) {
    json page = batch.list(request);
    for (const auto& s : page.value("jobSummaryList", json::array())) out.push_back(s);
    if (!page.contains("nextToken") || !page["nextToken"].is_string()) break;
    request["nextToken"] = page["nextToken"];
  }
  return out;
}

// Newest first (createdAt, epoch ms).
void sort_newest_first(std::vector<json>& jobs) {
  std::stable_sort(jobs.begin(), jobs.end(), [](const json& a, const json& b) {
    return a.value("createdAt", int64_t{0}) > b.value("createdAt", int64_t{0});
  });
}

std::string training_job_name(const std::string& arn) {
  auto slash = arn.rfind('/');
  return slash == std::string::npos ? arn : arn.substr(slash + 1);
}

// The status line of a described (or listed) service job.
json status_line(const json& d, const std::string& action) {
  json line = {{"job", d.value("jobName", std::string())},
               {"job_id", d.value("jobId", std::string())},
               {"status", d.value("status", std::string())}};
  if (!action.empty()) line["action"] = action;
  if (d.contains("jobQueue")) line["queue"] = d["jobQueue"];
  if (d.contains("shareIdentifier")) line["share"] = d["shareIdentifier"];
  if (d.contains("schedulingPriority")) line["priority"] = d["schedulingPriority"];
  if (d.contains("statusReason")) line["status_reason"] = d["statusReason"];
  if (d.contains("attempts") && d["attempts"].is_array()) line["attempts"] = d["attempts"].size();
  std::string arn;
  try {
    arn = d.at("latestAttempt").at("serviceResourceId").at("value").get<std::string>();
  } catch (const json::exception&) {
  }
  if (!arn.empty()) {
    line["training_job"] = training_job_name(arn);
    line["training_job_arn"] = arn;
  }
  // SageMaker writes <S3OutputPath>/<training job name>/output/{model,output}.tar.gz.
  try {
    json payload = json::parse(d.at("serviceRequestPayload").get<std::string>());
    std::string base = payload.at("OutputDataConfig").at("S3OutputPath");
    if (!base.empty() && base.back() != '/') base += '/';
    std::string tj =
        arn.empty() ? payload.value("TrainingJobName", std::string()) : training_job_name(arn);
    if (!tj.empty()) line["results"] = base + tj + "/output/";
  } catch (const json::exception&) {
  }
  return line;
}

json redact_payload_maps(json payload) {
  for (const char* field : {"Environment", "HyperParameters"}) {
    if (payload.contains(field) && payload[field].is_object()) {
      for (auto& [k, v] : payload[field].items()) {
        if (is_secret_env_name(k) && v.is_string() && !v.get<std::string>().empty()) v = "***";
      }
    }
  }
  return payload;
}

void redact_strings(json& j) {
  if (j.is_string()) {
    j = log::redact(j.get<std::string>());
  } else if (j.is_structured()) {
    for (auto& item : j) redact_strings(item);
  }
}

class AwsBatch : public BatchApi {
 public:
  explicit AwsBatch(AwsClient* client) : client_(client) {}
  json submit(const json& request) override {
    return client_->call_rest_json("batch", "/v1/submitservicejob", request);
  }
  std::optional<json> describe(const std::string& job_id) override {
    try {
      return client_->call_rest_json("batch", "/v1/describeservicejob", {{"jobId", job_id}});
    } catch (const AwsError& e) {
      if (e.code() == "ClientException" && (e.status() == 404 || e.status() == 400)) {
        return std::nullopt;
      }
      throw;
    }
  }
  json list(const json& request) override {
    return client_->call_rest_json("batch", "/v1/listservicejobs", request);
  }
  void terminate(const std::string& job_id, const std::string& reason) override {
    client_->call_rest_json("batch", "/v1/terminateservicejob",
                            {{"jobId", job_id}, {"reason", reason}});
  }
  json queue_snapshot(const std::string& queue) override {
    return client_->call_rest_json("batch", "/v1/getjobqueuesnapshot", {{"jobQueue", queue}});
  }

 private:
  AwsClient* client_;
};

class DryRunBatch : public BatchApi {
 public:
  explicit DryRunBatch(std::ostream* out) : out_(out) {}
  json submit(const json& request) override {
    print("/v1/submitservicejob", redact_batch_request(request));
    return {{"jobArn", "arn:aws:batch:dry-run:000000000000:service-job/dry-run"},
            {"jobName", request.value("jobName", std::string())},
            {"jobId", "dry-run"}};
  }
  std::optional<json> describe(const std::string& job_id) override {
    print("/v1/describeservicejob", {{"jobId", job_id}});
    return std::nullopt;
  }
  json list(const json& request) override {
    print("/v1/listservicejobs", request);
    return {{"jobSummaryList", json::array()}};
  }
  void terminate(const std::string& job_id, const std::string& reason) override {
    print("/v1/terminateservicejob", {{"jobId", job_id}, {"reason", reason}});
  }
  json queue_snapshot(const std::string& queue) override {
    print("/v1/getjobqueuesnapshot", {{"jobQueue", queue}});
    return json::object();
  }

 private:
  void print(const std::string& path, const json& body) {
    *out_ << json{{"service", "batch"}, {"method", "POST"}, {"path", path}, {"body", body}}.dump()
          << "\n";
  }
  std::ostream* out_;
};

}  // namespace

void validate_batch_options(const BatchOptions& options) {
  if (options.queue.empty()) throw_invalid("--queue is required with --backend batch");
  if (!full_match(options.queue, "[A-Za-z0-9_\\-]{1,128}") &&
      !full_match(options.queue,
                  "arn:aws[a-z\\-]*:batch:[a-z0-9\\-]+:\\d{12}:job-queue/[A-Za-z0-9_\\-]{1,128}")) {
    fail_rule("", "--queue",
              "is " + quoted(options.queue) +
                  ": neither a job queue name ([A-Za-z0-9_-]{1,128}) nor a job queue ARN "
                  "(arn:aws:batch:REGION:ACCOUNT:job-queue/NAME)");
  }
  if (!options.share_identifier.empty()) {
    check_pattern("", "--share-identifier", options.share_identifier, "[A-Za-z0-9_]{1,255}",
                  "1..255 letters, digits or '_', AWS Batch's shareIdentifier");
  }
  if (options.priority != -1) {
    check_range("", "--priority", options.priority, 0, 9999, "AWS Batch's schedulingPriority");
  }
  check_range("", "--attempts", options.attempts, 1, 10, "AWS Batch's retryStrategy.attempts");
  if (options.attempt_timeout_s < 0) {
    fail_rule("", "--attempt-timeout-s",
              "is " + std::to_string(options.attempt_timeout_s) +
                  ": must be a positive number of seconds, or 0 for none");
  }
}

namespace {

void check_hyperparameters(const JobSpec& spec, const std::string& origin,
                           bool allow_plaintext_secrets) {
  if (spec.hyperparameters.size() > 100) {
    fail_rule(origin, "hyperparameters",
              "has " + std::to_string(spec.hyperparameters.size()) +
                  " entries; SageMaker allows at most 100");
  }
  for (const auto& [k, v] : spec.hyperparameters) {
    std::string field = "hyperparameters." + k;
    check_length(origin, field, k, 1, 256, "SageMaker HyperParameters keys");
    if (k.find_first_of("\r\n") != std::string::npos)
      fail_rule(origin, field, "name has a line break; SageMaker allows none");
    // A value may be a secret: its length is shown, never the value.
    if (v.size() > 2500) {
      fail_rule(
          origin, field,
          "value is " + std::to_string(v.size()) + " characters; SageMaker allows at most 2500");
    }
    if (v.find_first_of("\r\n") != std::string::npos)
      fail_rule(origin, field, "value has a line break; SageMaker allows none");
    if (is_secret_env_name(k) && !v.empty() && !allow_plaintext_secrets) {
      fail_rule(origin, field,
                "looks like a secret: DescribeTrainingJob and DescribeServiceJob show "
                "hyperparameters to anyone with read access. Use judge_api_key_secret_id (AWS "
                "Secrets Manager) or pass --allow-plaintext-secrets");
    }
  }
}

}  // namespace

void validate_batch_job_spec(const JobSpec& spec, const std::string& origin,
                             bool allow_plaintext_secrets) {
  validate_job_spec(spec, origin, allow_plaintext_secrets);
  for (const auto& input : spec.inputs) {
    if (input.local_path != "/opt/ml/processing/input/" + input.name) {
      fail_rule(origin, "inputs." + input.name + ".local_path",
                "is " + quoted(input.local_path) +
                    ": cannot be set with --backend batch: a training job puts channel '" +
                    input.name + "' at " + kTrainingChannelRoot + input.name);
    }
    check_pattern(origin, "inputs." + input.name, input.name, "[A-Za-z0-9.\\-_]{1,64}",
                  "a training channel name, 1..64 of A-Za-z0-9.-_");
  }
  if (spec.output_local_path != JobSpec{}.output_local_path) {
    fail_rule(origin, "output_local_path",
              "is " + quoted(spec.output_local_path) +
                  ": cannot be set with --backend batch: a training job's results go to "
                  "/opt/ml/model and /opt/ml/output/data");
  }
  check_hyperparameters(spec, origin, allow_plaintext_secrets);
  if (spec.tags.size() > 49) {
    fail_rule(origin, "tags",
              "has " + std::to_string(spec.tags.size()) +
                  " entries; at most 49 (evalctl adds assay-spec-sha256; AWS allows 50)");
  }
}

SpecIdentity batch_spec_identity(const JobSpec& spec, const BatchOptions& options) {
  SpecIdentity id = spec_identity(spec);
  id.canonical = {{"spec", id.canonical},
                  {"backend", "batch/sagemaker-training"},
                  {"queue", options.queue},
                  {"hyperparameters", spec.hyperparameters}};
  id.hash = sha256_hex(id.canonical.dump());
  return id;
}

std::string batch_client_token(const std::string& job_name) {
  return sha256_hex("assay-batch:" + job_name);
}

json build_training_job_request(const JobSpec& spec, const std::string& name,
                                const std::string& spec_hash,
                                const std::map<std::string, std::string>& input_uris,
                                const std::map<std::string, std::string>& container_paths) {
  json algorithm = {{"TrainingImage", spec.image_uri}, {"TrainingInputMode", "File"}};
  if (!spec.entrypoint.empty()) algorithm["ContainerEntrypoint"] = spec.entrypoint;
  if (!spec.arguments.empty()) algorithm["ContainerArguments"] = spec.arguments;
  json channels = json::array();
  for (const auto& input : spec.inputs) {
    channels.push_back({{"ChannelName", input.name},
                        {"DataSource",
                         {{"S3DataSource",
                           {{"S3DataType", "S3Prefix"},
                            {"S3Uri", input_uris.at(input.name)},
                            {"S3DataDistributionType", "FullyReplicated"}}}}}});
  }
  json tags = json::array();
  for (const auto& [k, v] : spec.tags) tags.push_back({{"Key", k}, {"Value", v}});
  tags.push_back({{"Key", "assay-spec-sha256"}, {"Value", spec_hash}});
  json request = {{"TrainingJobName", name},
                  {"AlgorithmSpecification", algorithm},
                  {"RoleArn", spec.role_arn},
                  {"OutputDataConfig", {{"S3OutputPath", spec.output}}},
                  {"ResourceConfig",
                   {{"InstanceType", spec.instance_type},
                    {"InstanceCount", spec.instance_count},
                    {"VolumeSizeInGB", spec.volume_size_gb}}},
                  {"StoppingCondition", {{"MaxRuntimeInSeconds", spec.max_runtime_s}}},
                  {"Tags", tags}};
  if (!channels.empty()) request["InputDataConfig"] = channels;
  // The processing environment minus OUTPUT_DIR: the training contract writes /opt/ml/model.
  auto env = container_environment(spec, container_paths);
  if (spec.environment.count("OUTPUT_DIR") == 0) env.erase("OUTPUT_DIR");
  if (!env.empty()) request["Environment"] = env;
  if (!spec.hyperparameters.empty()) request["HyperParameters"] = spec.hyperparameters;
  return request;
}

json build_submit_service_job_request(const JobSpec& spec, const BatchOptions& options,
                                      const std::string& name, const std::string& spec_hash,
                                      const json& training_request) {
  json tags = json::object();
  for (const auto& [k, v] : spec.tags) tags[k] = v;
  tags["assay-spec-sha256"] = spec_hash;
  json request = {{"jobName", name},
                  {"jobQueue", options.queue},
                  {"serviceJobType", "SAGEMAKER_TRAINING"},
                  {"serviceRequestPayload", training_request.dump()},
                  {"retryStrategy", {{"attempts", options.attempts}}},
                  {"tags", tags},
                  {"clientToken", batch_client_token(name)}};
  if (!options.share_identifier.empty()) request["shareIdentifier"] = options.share_identifier;
  if (options.priority >= 0) request["schedulingPriority"] = options.priority;
  if (options.attempt_timeout_s > 0)
    request["timeoutConfig"] = {{"attemptDurationSeconds", options.attempt_timeout_s}};
  return request;
}

json redact_batch_request(json body) {
  if (body.contains("serviceRequestPayload") && body["serviceRequestPayload"].is_string()) {
    try {
      json payload = json::parse(body["serviceRequestPayload"].get<std::string>());
      body["serviceRequestPayload"] = redact_payload_maps(payload).dump();
    } catch (const json::exception&) {
    }
  }
  redact_strings(body);
  return body;
}

std::unique_ptr<BatchApi> make_aws_batch(AwsClient* client) {
  return std::make_unique<AwsBatch>(client);
}
std::unique_ptr<BatchApi> make_dry_run_batch(std::ostream* out) {
  return std::make_unique<DryRunBatch>(out);
}

json describe_batch_job(BatchApi& batch, const std::string& queue, const std::string& name) {
  std::vector<json> jobs;
  for (auto& s : list_by_name(batch, queue, name)) {
    if (s.value("jobName", std::string()) == name) jobs.push_back(std::move(s));
  }
  if (jobs.empty())
    throw_not_found("no AWS Batch service job named '" + name + "' in queue '" + queue + "'");
  sort_newest_first(jobs);
  std::string id = jobs.front().value("jobId", std::string());
  auto d = batch.describe(id);
  if (!d) throw_not_found("AWS Batch service job '" + name + "' (" + id + ") does not exist");
  return *d;
}

int print_batch_status(BatchApi& batch, const std::string& queue, const std::string& name,
                       std::ostream& out) {
  out << status_line(describe_batch_job(batch, queue, name), "").dump() << "\n";
  return kExitOk;
}

namespace {

// The status line of `name` once Batch has handed it to SageMaker; throws not found before.
json training_job_line(BatchApi& batch, const std::string& queue, const std::string& name,
                       const char* wanted) {
  json line = status_line(describe_batch_job(batch, queue, name), "");
  if (!line.contains("training_job") || !line.contains("results")) {
    throw_not_found("AWS Batch job '" + name + "' (status " + line.value("status", "?") +
                    ") has no SageMaker training job yet, so no " + wanted);
  }
  return line;
}

}  // namespace

int print_batch_logs(BatchApi& batch, AwsClient& client, const std::string& queue,
                     const std::string& name, std::ostream& out) {
  json line = training_job_line(batch, queue, name, "logs");
  print_job_logs(client, kTrainingLogGroup, line["training_job"].get<std::string>(), out);
  return kExitOk;
}

int download_batch_results(BatchApi& batch, S3& s3, const std::string& queue,
                           const std::string& name, const fs::path& dest, std::ostream& out) {
  json line = training_job_line(batch, queue, name, "results");
  std::string uri = line["results"].get<std::string>();  // <output><training job>/output/
  // Listed from the training job's folder: moto's SigV4 check refuses a '/' inside a listed
  // prefix, and the folder holds little besides output/.
  std::string job_folder = uri.substr(0, uri.size() - std::string("output/").size());
  int files = download_prefix(s3, uri, dest, job_folder);
  if (files == 0) {
    throw_not_found("nothing under " + uri + " yet (AWS Batch job '" + name + "' is " +
                    line.value("status", "?") + ")");
  }
  std::vector<std::string> unpacked = unpack_training_output(dest);
  out << json{{"job", name},
              {"training_job", line["training_job"]},
              {"files", files},
              {"unpacked", unpacked},
              {"dest", dest.string()}}
             .dump()
      << "\n";
  return kExitOk;
}

namespace {

// `first`, when given, is a description just taken (used as the first observation).
int wait_by_id(BatchApi& batch, const std::string& job_id, const std::string& name,
               const SubmitOptions& options, std::ostream& out,
               std::optional<json> first = std::nullopt) {
  return follow_job(
      [&] {
        auto d = first ? std::move(first) : batch.describe(job_id);
        first.reset();
        if (!d)
          throw_not_found("AWS Batch service job '" + name + "' (" + job_id + ") does not exist");
        std::string status = d->value("status", std::string());
        return JobObservation{status_line(*d, ""), is_terminal(status), status == "SUCCEEDED"};
      },
      options, out);
}

}  // namespace

int wait_for_batch_job(BatchApi& batch, const std::string& queue, const std::string& name,
                       const SubmitOptions& options, std::ostream& out) {
  json d = describe_batch_job(batch, queue, name);
  return wait_by_id(batch, d.value("jobId", std::string()), name, options, out, d);
}

int stop_batch_job(BatchApi& batch, const std::string& queue, const std::string& name,
                   std::ostream& out) {
  json d = describe_batch_job(batch, queue, name);
  std::string id = d.value("jobId", std::string());
  if (!is_terminal(d.value("status", std::string()))) batch.terminate(id, "stopped with evalctl");
  auto after = batch.describe(id);
  out << status_line(after ? *after : d, "stopped").dump() << "\n";
  return kExitOk;
}

int list_batch_jobs(BatchApi& batch, const std::string& queue, const std::string& status,
                    const std::string& name_contains, int max_results, std::ostream& out) {
  if (!status.empty() && std::find(kStatuses.begin(), kStatuses.end(), status) == kStatuses.end()) {
    throw_invalid("--status '" + status +
                  "' is not an AWS Batch job status (SUBMITTED, PENDING, RUNNABLE, SCHEDULED, "
                  "STARTING, RUNNING, SUCCEEDED, FAILED)");
  }
  // Without a filter ListServiceJobs returns RUNNING jobs only: ask once per status.
  std::vector<json> jobs;
  for (const auto& s : kStatuses) {
    if (!status.empty() && s != status) continue;
    json request = {{"jobQueue", queue}, {"jobStatus", s}, {"maxResults", 100}};
    for (;;) {
      json page = batch.list(request);
      for (const auto& j : page.value("jobSummaryList", json::array())) jobs.push_back(j);
      if (!page.contains("nextToken") || !page["nextToken"].is_string()) break;
      request["nextToken"] = page["nextToken"];
    }
  }
  sort_newest_first(jobs);
  std::string needle = lower(name_contains);
  int printed = 0;
  for (const auto& j : jobs) {
    if (printed >= max_results) break;
    if (!needle.empty() &&
        lower(j.value("jobName", std::string())).find(needle) == std::string::npos)
      continue;
    json line = status_line(j, "");
    if (j.contains("createdAt")) line["created_at_ms"] = j["createdAt"];
    out << line.dump() << "\n";
    ++printed;
  }
  return kExitOk;
}

int print_batch_queue(BatchApi& batch, const std::string& queue, std::ostream& out, bool table) {
  // What runs now and what waits, by status (one ListServiceJobs per status, all pages).
  std::map<std::string, std::vector<json>> by_status;
  for (const char* s : {"SUBMITTED", "PENDING", "RUNNABLE", "SCHEDULED", "STARTING", "RUNNING"}) {
    json request = {{"jobQueue", queue}, {"jobStatus", s}, {"maxResults", 100}};
    for (;;) {
      json page = batch.list(request);
      for (const auto& j : page.value("jobSummaryList", json::array())) by_status[s].push_back(j);
      if (!page.contains("nextToken") || !page["nextToken"].is_string()) break;
      request["nextToken"] = page["nextToken"];
    }
  }
  // Batch's own dispatch order of RUNNABLE jobs, and capacity per share.
  json snapshot;
  bool have_snapshot = false;
  try {
    snapshot = batch.queue_snapshot(queue);
    have_snapshot = snapshot.contains("frontOfQueue");
  } catch (const AwsError& e) {
    log::warn("GetJobQueueSnapshot failed; ordering RUNNABLE jobs by creation time",
              {{"queue", queue}, {"code", e.code()}});
  }
  std::vector<json> runnable = by_status["RUNNABLE"];
  std::map<std::string, size_t> position;  // jobArn -> 1-based place in the front of the queue
  if (have_snapshot) {
    const json& front = snapshot["frontOfQueue"].value("jobs", json::array());
    for (size_t i = 0; i < front.size(); ++i)
      position.emplace(front[i].value("jobArn", std::string()), i + 1);
    std::stable_sort(runnable.begin(), runnable.end(), [&](const json& a, const json& b) {
      auto pa = position.find(a.value("jobArn", std::string()));
      auto pb = position.find(b.value("jobArn", std::string()));
      size_t ia = pa == position.end() ? SIZE_MAX : pa->second;
      size_t ib = pb == position.end() ? SIZE_MAX : pb->second;
      if (ia != ib) return ia < ib;
      return a.value("createdAt", int64_t{0}) < b.value("createdAt", int64_t{0});
    });
  } else {
    std::stable_sort(runnable.begin(), runnable.end(), [](const json& a, const json& b) {
      return a.value("createdAt", int64_t{0}) < b.value("createdAt", int64_t{0});
    });
  }

  auto share_of = [](const json& j) { return j.value("shareIdentifier", std::string()); };
  struct Share {
    json running = json::array();
    json next = json::array();
    int pending = 0;
    json capacity = json::array();
  };
  std::map<std::string, Share> shares;
  size_t n_running = 0;
  for (const char* s : {"SCHEDULED", "STARTING", "RUNNING"}) {
    for (const auto& j : by_status[s]) {
      json entry = status_line(j, "");
      if (j.contains("startedAt")) entry["started_at_ms"] = j["startedAt"];
      shares[share_of(j)].running.push_back(entry);
      ++n_running;
    }
  }
  for (size_t i = 0; i < runnable.size(); ++i) {
    const json& j = runnable[i];
    json entry = {{"position", i + 1},
                  {"job", j.value("jobName", std::string())},
                  {"job_id", j.value("jobId", std::string())}};
    if (j.contains("createdAt")) entry["created_at_ms"] = j["createdAt"];
    shares[share_of(j)].next.push_back(entry);
  }
  for (const char* s : {"SUBMITTED", "PENDING"})
    for (const auto& j : by_status[s]) shares[share_of(j)].pending++;
  if (have_snapshot) {
    try {
      for (const auto& u : snapshot.at("queueUtilization")
                               .at("fairshareUtilization")
                               .at("topCapacityUtilization")) {
        shares[u.value("shareIdentifier", std::string())].capacity =
            u.value("capacityUsage", json::array());
      }
    } catch (const json::exception&) {
    }
  }

  json head = {{"queue", queue},
               {"running", n_running},
               {"runnable", runnable.size()},
               {"pending", by_status["SUBMITTED"].size() + by_status["PENDING"].size()},
               {"order", have_snapshot ? "batch" : "created"}};
  if (have_snapshot && snapshot["frontOfQueue"].contains("lastUpdatedAt"))
    head["snapshot_at_ms"] = snapshot["frontOfQueue"]["lastUpdatedAt"];
  std::vector<json> lines;
  for (const auto& [name, share] : shares) {
    json line = {{"queue", queue},
                 {"share", name.empty() ? json(nullptr) : json(name)},
                 {"running", share.running},
                 {"next", share.next},
                 {"pending", share.pending}};
    if (!share.capacity.empty()) line["capacity"] = share.capacity;
    lines.push_back(std::move(line));
  }
  if (!table) {
    out << head.dump() << "\n";
    for (const auto& line : lines) out << line.dump() << "\n";
    return kExitOk;
  }
  // The same content for people: one row per job, shares together, running before waiting.
  out << "queue " << queue << ": " << head["running"] << " running, " << head["runnable"]
      << " runnable, " << head["pending"] << " submitted/pending; order: "
      << (have_snapshot ? "AWS Batch's dispatch order" : "creation time (no queue snapshot)")
      << "\n";
  auto pad = [](std::string text, size_t width) {
    if (text.size() < width) text.append(width - text.size(), ' ');
    return text + "  ";
  };
  out << pad("SHARE", 12) << pad("STATE", 9) << pad("NEXT", 4) << pad("JOB", 40)
      << "TRAINING JOB\n";
  for (const auto& line : lines) {
    std::string share = line["share"].is_null() ? "-" : line["share"].get<std::string>();
    for (const auto& j : line["running"]) {
      out << pad(share, 12) << pad(j.value("status", std::string()), 9) << pad("", 4)
          << pad(j.value("job", std::string()), 40) << j.value("training_job", std::string("-"))
          << "\n";
    }
    for (const auto& j : line["next"]) {
      out << pad(share, 12) << pad("RUNNABLE", 9)
          << pad(std::to_string(j["position"].get<size_t>()), 4)
          << pad(j.value("job", std::string()), 40) << "-\n";
    }
    if (line["pending"].get<int>() > 0) {
      out << pad(share, 12) << pad("PENDING", 9) << pad("", 4) << "(" << line["pending"].get<int>()
          << " submitted, not yet runnable)\n";
    }
  }
  return kExitOk;
}

int run_batch_submit(const JobSpec& spec, const std::string& origin,
                     const BatchOptions& batch_options, BatchApi& batch, S3& s3,
                     const SubmitOptions& options, std::ostream& out) {
  validate_batch_options(batch_options);
  validate_batch_job_spec(spec, origin, options.allow_plaintext_secrets);
  for (const auto* map : {&spec.environment, &spec.hyperparameters}) {
    for (const auto& [k, v] : *map) {
      if (is_secret_env_name(k) && !v.empty()) {
        log::register_secret(v);
        log::warn(
            "a secret is put into the training job in clear text (--allow-plaintext-secrets): "
            "anyone allowed to DescribeTrainingJob / DescribeServiceJob can read it; prefer "
            "judge_api_key_secret_id",
            {{"name", k}});
      }
    }
  }
  SpecIdentity id = batch_spec_identity(spec, batch_options);
  {
    std::map<std::string, std::string> paths;
    for (const auto& input : spec.inputs) paths[input.name] = kTrainingChannelRoot + input.name;
    validate_environment(container_environment(spec, paths), origin);
  }
  std::string base = job_name(spec.name_prefix, id.hash, 1);
  JobLock lock(options.lock_dir, base);

  // The latest attempt in this queue: base, base-r2, ... (newest job of the highest attempt).
  auto find_latest = [&]() -> std::optional<json> {
    std::optional<json> latest;
    int latest_attempt = 0;
    int64_t latest_created = -1;
    for (const auto& s : list_by_name(batch, batch_options.queue, base)) {
      int a = attempt_of(s.value("jobName", std::string()), base);
      if (a == 0) continue;
      int64_t created = s.value("createdAt", int64_t{0});
      if (a > latest_attempt || (a == latest_attempt && created > latest_created)) {
        latest_attempt = a;
        latest_created = created;
        latest = s;
      }
    }
    if (!latest) return std::nullopt;
    auto d = batch.describe(latest->value("jobId", std::string()));
    return d ? d : latest;
  };
  auto attach = [&](const json& d, const std::string& action) {
    out << status_line(d, action).dump() << "\n";
    if (options.wait) {
      return wait_by_id(batch, d.value("jobId", std::string()), d.value("jobName", base), options,
                        out, d);
    }
    return kExitOk;
  };

  std::optional<json> latest = find_latest();
  int attempt = 0;
  if (latest) {
    attempt = attempt_of(latest->value("jobName", std::string()), base);
    std::string status = latest->value("status", std::string());
    if (status == "SUCCEEDED") {
      out << status_line(*latest, "already-completed").dump() << "\n";
      return kExitOk;
    }
    if (status != "FAILED") return attach(*latest, "attached");
    if (!options.retry_failed) {
      out << status_line(*latest, "not-retried").dump() << "\n";
      log::error("the last attempt of this job failed; pass --retry-failed to queue a new attempt",
                 {{"job", latest->value("jobName", base)}, {"status", status}});
      return kExitRuntime;
    }
  }
  std::string name = job_name(spec.name_prefix, id.hash, attempt + 1);

  // Stage local inputs (content-addressed; only missing objects are uploaded).
  std::map<std::string, std::string> uris, paths;
  for (const auto& input : spec.inputs) {
    paths[input.name] = kTrainingChannelRoot + input.name;
    if (input.source.rfind("s3://", 0) == 0) {
      uris[input.name] = input.source;
      continue;
    }
    fs::path p = local_input_path(spec, input);
    StagedInput staged = stage_local_input(s3, spec.staging, p, id.input_hashes.at(input.name));
    uris[input.name] = staged.s3_uri;
    if (staged.is_file) paths[input.name].append("/").append(p.filename().string());
  }
  json training = build_training_job_request(spec, name, id.hash, uris, paths);
  json request = build_submit_service_job_request(spec, batch_options, name, id.hash, training);
  if (options.dry_run) {
    batch.submit(request);  // prints the request; nothing is queued
    out << json{{"job", name}, {"action", "would-create"}, {"queue", batch_options.queue}}.dump()
        << "\n";
    return kExitOk;
  }
  std::string job_id;
  try {
    json answer = batch.submit(request);
    job_id = answer.value("jobId", std::string());
    log::info("submitted AWS Batch service job",
              {{"job", name}, {"job_id", job_id}, {"queue", batch_options.queue}});
  } catch (const AwsError& e) {
    // A duplicate clientToken is rejected: the job is already queued (another machine won).
    if (e.code() != "ClientException") throw;
    auto again = find_latest();
    if (!again || again->value("jobName", std::string()) != name) throw;
    log::info("job was submitted concurrently; attaching", {{"job", name}});
    return attach(*again, "attached");
  }
  std::optional<json> d = job_id.empty() ? std::nullopt : batch.describe(job_id);
  if (!d) {  // eventual consistency right after submit
    json line = {{"job", name},
                 {"job_id", job_id},
                 {"status", "SUBMITTED"},
                 {"action", "created"},
                 {"queue", batch_options.queue}};
    out << line.dump() << "\n";
    if (options.wait && !job_id.empty()) return wait_by_id(batch, job_id, name, options, out);
    return kExitOk;
  }
  return attach(*d, "created");
}

}  // namespace assay::submit
