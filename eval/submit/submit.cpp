#include "eval/submit/submit.h"

#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "eval/submit/job_lock.h"
#include "eval/submit/job_output.h"

namespace assay::submit {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path local_input_path(const JobSpec& spec, const JobInput& input) {
  fs::path p(input.source);
  return p.is_absolute() ? p : spec.base_dir / p;
}

bool is_terminal(const std::string& status) {
  return status == "Completed" || status == "Failed" || status == "Stopped";
}

json status_line(const json& d, const std::string& action) {
  json line = {{"job", d.value("ProcessingJobName", std::string())},
               {"status", d.value("ProcessingJobStatus", std::string())},
               {"arn", d.value("ProcessingJobArn", std::string())}};
  if (!action.empty()) line["action"] = action;
  if (d.contains("FailureReason")) line["failure_reason"] = d["FailureReason"];
  if (d.contains("ExitMessage")) line["exit_message"] = d["ExitMessage"];
  try {
    line["results"] = d.at("ProcessingOutputConfig").at("Outputs").at(0).at("S3Output").at("S3Uri");
  } catch (const json::exception&) {
  }
  return line;
}

}  // namespace

SpecIdentity spec_identity(const JobSpec& spec) {
  SpecIdentity id;
  json inputs = json::object();
  for (const auto& input : spec.inputs) {
    json entry = {{"local_path", input.local_path}};
    if (input.source.rfind("s3://", 0) == 0) {
      entry["s3_uri"] = input.source;
    } else {
      fs::path p = local_input_path(spec, input);
      std::string h = local_content_hash(p);
      id.input_hashes[input.name] = h;
      entry["sha256"] = h;
      entry["kind"] = fs::is_regular_file(p) ? "file:" + p.filename().string() : "folder";
    }
    inputs[input.name] = entry;
  }
  id.canonical = {{"image_uri", spec.image_uri},
                  {"role_arn", spec.role_arn},
                  {"instance_type", spec.instance_type},
                  {"instance_count", spec.instance_count},
                  {"volume_size_gb", spec.volume_size_gb},
                  {"max_runtime_s", spec.max_runtime_s},
                  {"inputs", inputs},
                  {"output", spec.output},
                  {"output_local_path", spec.output_local_path},
                  {"environment", spec.environment},
                  {"entrypoint", spec.entrypoint},
                  {"arguments", spec.arguments},
                  {"judge_api_key_secret_id", spec.judge_api_key_secret_id}};
  // Only when set, so the hashes (names) of jobs without one stay what they were.
  if (!spec.generation_endpoint.empty())
    id.canonical["generation_endpoint"] = spec.generation_endpoint;
  id.hash = sha256_hex(id.canonical.dump());
  return id;
}

std::string results_uri(const JobSpec& spec, const std::string& name) {
  std::string base = spec.output;
  if (!base.empty() && base.back() != '/') base += '/';
  return base + name + "/";
}

json build_create_request(const JobSpec& spec, const std::string& name,
                          const std::string& spec_hash,
                          const std::map<std::string, std::string>& input_uris,
                          const std::map<std::string, std::string>& container_paths) {
  json app = {{"ImageUri", spec.image_uri}};
  if (!spec.entrypoint.empty()) app["ContainerEntrypoint"] = spec.entrypoint;
  if (!spec.arguments.empty()) app["ContainerArguments"] = spec.arguments;
  json inputs = json::array();
  for (const auto& input : spec.inputs) {
    inputs.push_back({{"InputName", input.name},
                      {"S3Input",
                       {{"S3Uri", input_uris.at(input.name)},
                        {"LocalPath", input.local_path},
                        {"S3DataType", "S3Prefix"},
                        {"S3InputMode", "File"},
                        {"S3DataDistributionType", "FullyReplicated"}}}});
  }
  json tags = json::array();
  for (const auto& [k, v] : spec.tags) tags.push_back({{"Key", k}, {"Value", v}});
  tags.push_back({{"Key", "assay-spec-sha256"}, {"Value", spec_hash}});
  json request = {{"ProcessingJobName", name},
                  {"ProcessingResources",
                   {{"ClusterConfig",
                     {{"InstanceCount", spec.instance_count},
                      {"InstanceType", spec.instance_type},
                      {"VolumeSizeInGB", spec.volume_size_gb}}}}},
                  {"StoppingCondition", {{"MaxRuntimeInSeconds", spec.max_runtime_s}}},
                  {"AppSpecification", app},
                  {"ProcessingOutputConfig",
                   {{"Outputs", json::array({{{"OutputName", "results"},
                                              {"S3Output",
                                               {{"S3Uri", results_uri(spec, name)},
                                                {"LocalPath", spec.output_local_path},
                                                {"S3UploadMode", "EndOfJob"}}}}})}}},
                  {"RoleArn", spec.role_arn},
                  {"Tags", tags}};
  if (!inputs.empty()) request["ProcessingInputs"] = inputs;
  auto env = container_environment(spec, container_paths);
  if (!env.empty()) request["Environment"] = env;
  return request;
}

int print_status(SageMakerApi& sagemaker, const std::string& name, std::ostream& out) {
  auto d = sagemaker.describe(name);
  if (!d) throw_not_found("processing job '" + name + "' does not exist");
  out << status_line(*d, "").dump() << "\n";
  return 0;
}

int follow_job(const std::function<JobObservation()>& observe, const SubmitOptions& options,
               std::ostream& out) {
  auto start = std::chrono::steady_clock::now();
  std::string last;
  for (;;) {
    JobObservation o = observe();
    std::string status = o.line.value("status", std::string());
    if (status != last) {
      json fields = {{"job", o.line.value("job", std::string())}, {"status", status}};
      for (const char* extra : {"job_id", "training_job"}) {
        if (o.line.contains(extra)) fields[extra] = o.line[extra];
      }
      log::info("job status", fields);
    }
    last = status;
    if (o.ended) {
      o.line["action"] = "finished";
      out << o.line.dump() << "\n";
      return o.succeeded ? kExitOk : kExitRuntime;
    }
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options.wait_timeout_s > 0 && elapsed >= options.wait_timeout_s) {
      o.line["action"] = "wait-timeout";
      out << o.line.dump() << "\n";
      return kExitRuntime;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(options.poll_s));
  }
}

int wait_for_job(SageMakerApi& sagemaker, const std::string& name, const SubmitOptions& options,
                 std::ostream& out) {
  return follow_job(
      [&] {
        auto d = sagemaker.describe(name);
        if (!d) throw_not_found("processing job '" + name + "' does not exist");
        std::string status = d->value("ProcessingJobStatus", std::string());
        return JobObservation{status_line(*d, ""), is_terminal(status), status == "Completed"};
      },
      options, out);
}

int run_submit(const JobSpec& spec, const std::string& origin, SageMakerApi& sagemaker, S3& s3,
               const SubmitOptions& options, std::ostream& out) {
  validate_job_spec(spec, origin, options.allow_plaintext_secrets);
  if (!spec.hyperparameters.empty()) {
    throw_invalid(origin +
                  ": field 'hyperparameters' is for --backend batch (a training job); a "
                  "processing job has none");
  }
  for (const auto& [k, v] : spec.environment) {
    if (is_secret_env_name(k) && !v.empty()) {
      log::register_secret(v);
      log::warn(
          "a secret is put into the job's Environment in clear text (--allow-plaintext-secrets): "
          "anyone "
          "allowed to DescribeProcessingJob can read it; prefer judge_api_key_secret_id",
          {{"variable", k}});
    }
  }
  SpecIdentity id = spec_identity(spec);
  // Check the environment evalctl will send before any call (it adds MODEL_PATH etc.).
  {
    std::map<std::string, std::string> paths;
    for (const auto& input : spec.inputs) paths[input.name] = input.local_path;
    validate_environment(container_environment(spec, paths), origin);
  }
  std::string base = job_name(spec.name_prefix, id.hash, 1);
  JobLock lock(options.lock_dir, base);

  // Find the latest attempt: base, base-r2, base-r3, ...
  int attempt = 0;
  std::optional<json> latest;
  for (int a = 1; a <= 99; ++a) {
    auto d = sagemaker.describe(job_name(spec.name_prefix, id.hash, a));
    if (!d) break;
    attempt = a;
    latest = d;
  }
  auto attach = [&](const json& d, const std::string& action) {
    out << status_line(d, action).dump() << "\n";
    if (options.wait)
      return wait_for_job(sagemaker, d.value("ProcessingJobName", base), options, out);
    return kExitOk;
  };
  if (latest) {
    std::string status = latest->value("ProcessingJobStatus", std::string());
    if (status == "Completed") {
      out << status_line(*latest, "already-completed").dump() << "\n";
      return kExitOk;
    }
    if (status == "InProgress" || status == "Stopping") return attach(*latest, "attached");
    if (!options.retry_failed) {
      out << status_line(*latest, "not-retried").dump() << "\n";
      log::error(
          "the last attempt of this job did not complete; pass --retry-failed to start a new "
          "attempt",
          {{"job", latest->value("ProcessingJobName", base)}, {"status", status}});
      return kExitRuntime;
    }
  }
  std::string name = job_name(spec.name_prefix, id.hash, attempt + 1);

  // Stage local inputs (content-addressed; only missing objects are uploaded).
  std::map<std::string, std::string> uris, paths;
  for (const auto& input : spec.inputs) {
    paths[input.name] = input.local_path;
    if (input.source.rfind("s3://", 0) == 0) {
      uris[input.name] = input.source;
      continue;
    }
    fs::path p = local_input_path(spec, input);
    StagedInput staged = stage_local_input(s3, spec.staging, p, id.input_hashes.at(input.name));
    uris[input.name] = staged.s3_uri;
    if (staged.is_file) paths[input.name] = input.local_path + "/" + p.filename().string();
  }
  json request = build_create_request(spec, name, id.hash, uris, paths);
  if (options.dry_run) {
    sagemaker.create(request);  // prints the request; nothing exists afterwards
    out << json{{"job", name}, {"action", "would-create"}, {"results", results_uri(spec, name)}}
               .dump()
        << "\n";
    return kExitOk;
  }
  try {
    std::string arn = sagemaker.create(request);
    log::info("created processing job", {{"job", name}, {"arn", arn}});
  } catch (const AwsError& e) {
    if (e.code() != "ResourceInUse") throw;
    log::info("job was created concurrently; attaching", {{"job", name}});
  }
  auto d = sagemaker.describe(name);
  if (!d) {  // eventual consistency right after create
    json line = {{"job", name},
                 {"status", "Submitted"},
                 {"action", "created"},
                 {"results", results_uri(spec, name)}};
    out << line.dump() << "\n";
    return options.wait ? wait_for_job(sagemaker, name, options, out) : kExitOk;
  }
  return attach(*d, "created");
}

int list_processing_jobs(SageMakerApi& sagemaker, const ListQuery& query, std::ostream& out) {
  json request = {
      {"MaxResults", query.max_results}, {"SortBy", "CreationTime"}, {"SortOrder", "Descending"}};
  if (!query.name_contains.empty()) request["NameContains"] = query.name_contains;
  if (!query.status.empty()) request["StatusEquals"] = query.status;
  json answer = sagemaker.list(request);
  for (const auto& s : answer.value("ProcessingJobSummaries", json::array())) {
    out << json{{"job", s.value("ProcessingJobName", "")},
                {"status", s.value("ProcessingJobStatus", "")},
                {"created", s.value("CreationTime", 0.0)}}
               .dump()
        << "\n";
  }
  return kExitOk;
}

int download_results(SageMakerApi& sagemaker, S3& s3, const std::string& name,
                     const fs::path& dest) {
  auto d = sagemaker.describe(name);
  if (!d) throw_not_found("processing job '" + name + "' does not exist");
  std::string uri;
  try {
    uri = d->at("ProcessingOutputConfig").at("Outputs").at(0).at("S3Output").at("S3Uri");
  } catch (const json::exception&) {
    throw Error(ErrorKind::kRemote, "processing job '" + name + "' has no S3 output");
  }
  return download_prefix(s3, uri, dest);
}

}  // namespace assay::submit
