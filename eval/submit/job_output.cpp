#include "eval/submit/job_output.h"

#include "core/fs.h"
#include "inference/model_archive.h"

namespace assay::submit {

namespace fs = std::filesystem;
using nlohmann::json;

int print_job_logs(AwsClient& client, const std::string& group, const std::string& job,
                   std::ostream& out) {
  json request = {{"logGroupName", group}, {"logStreamNamePrefix", job + "/"}};
  int count = 0;
  for (;;) {
    json answer = client.call_json("logs", "Logs_20140328.FilterLogEvents", request);
    for (const auto& event : answer.value("events", json::array())) {
      out << event.value("logStreamName", std::string()) << " "
          << event.value("message", std::string()) << "\n";
      ++count;
    }
    if (!answer.contains("nextToken") || !answer["nextToken"].is_string()) break;
    request["nextToken"] = answer["nextToken"];
  }
  return count;
}

namespace {

bool has_dotdot(const std::string& rel) {
  for (const auto& part : fs::path(rel)) {
    if (part == "..") return true;
  }
  return false;
}

}  // namespace

int download_prefix(S3& s3, const std::string& uri, const fs::path& dest,
                    const std::string& listed) {
  S3Uri prefix = parse_s3_uri(uri);
  int count = 0;
  for (const auto& key : s3.list(parse_s3_uri(listed.empty() ? uri : listed))) {
    if (key.rfind(prefix.key, 0) != 0) continue;
    std::string rel = key.substr(prefix.key.size());
    if (rel.empty()) rel = fs::path(key).filename().string();  // the URI names one object
    while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
    if (rel.empty() || rel.back() == '/' || has_dotdot(rel)) continue;
    atomic_write(dest / rel, s3.get({prefix.bucket, key}));
    ++count;
  }
  return count;
}

std::vector<std::string> unpack_training_output(const fs::path& dest) {
  std::vector<std::string> unpacked;
  std::error_code ec;
  for (const char* name : {"model", "output"}) {  // what a training job writes
    fs::path archive = dest / (std::string(name) + ".tar.gz");
    if (!fs::is_regular_file(archive, ec)) continue;
    fs::create_directories(dest / name);
    inference::unpack_archive(archive, dest / name);
    fs::remove(archive);
    unpacked.push_back(archive.filename().string());
  }
  return unpacked;
}

}  // namespace assay::submit
