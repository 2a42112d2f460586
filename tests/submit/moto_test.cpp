// evalctl against moto_server with SigV4 verification on (INITIAL_NO_AUTH_ACTION_COUNT): submit
// with S3 staging, status, list, results, resubmit, and a wrong secret rejected with 403. The
// state is checked with boto3 (tests/submit/moto_helper.py), an independent client. Skips,
// saying why, when moto_server or python3+boto3 is missing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/sha256.h"
#include "eval/submit/s3.h"
#include "tests/e2e/process.h"
#include "tests/submit/fake_batch_server.h"

namespace {

namespace fs = std::filesystem;
using assay::testing::run_command;
using assay::testing::shell_quote;
using nlohmann::json;

std::string find_program(const std::string& name, const std::string& preferred) {
  if (fs::exists(preferred)) return preferred;
  auto r = run_command("command -v " + name);
  if (r.exit_code != 0) return "";
  std::string path = r.output.substr(0, r.output.find('\n'));
  return path;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class MotoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    moto_ = find_program("moto_server", "/root/.pyenv/shims/moto_server");
    python_ = find_program("python3", "/root/.pyenv/shims/python3");
    if (moto_.empty()) GTEST_SKIP() << "moto_server is not installed (pip install 'moto[server]')";
    if (python_.empty() || run_command(python_ + " -c 'import boto3'").exit_code != 0) {
      GTEST_SKIP() << "python3 with boto3 is not installed";
    }
    dir_ = fs::temp_directory_path() / ("assay_moto_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "server");
    port_ = free_port();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      if (::chdir((dir_ / "server").c_str()) != 0) ::_exit(127);
      ::setenv("INITIAL_NO_AUTH_ACTION_COUNT", "3", 1);
      ::setenv("MOTO_ENABLE_RECORDING", "true", 1);
      std::string log = (dir_ / "server" / "log").string();
      if (!::freopen(log.c_str(), "w", stdout) || !::freopen(log.c_str(), "a", stderr))
        ::_exit(127);
      std::string port = std::to_string(port_);
      ::execl(moto_.c_str(), moto_.c_str(), "-H", "127.0.0.1", "-p", port.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!port_open(port_) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(port_open(port_)) << "moto_server did not start: "
                                  << assay::read_file(dir_ / "server" / "log");
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    auto setup = run_command(python_ + " " + helper() + " setup " + url_ + " assay-bucket");
    ASSERT_EQ(setup.exit_code, 0) << setup.output;
    json keys = json::parse(setup.output.substr(setup.output.find('{')));
    ak_ = keys["ak"];
    sk_ = keys["sk"];
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string helper() const {
    return std::string(ASSAY_SOURCE_DIR) + "/tests/submit/moto_helper.py";
  }
  std::string evalctl(const std::string& args, const std::string& secret = "") {
    return "env -i PATH=/usr/bin:/bin HOME=" + shell_quote(dir_.string()) +
           " XDG_CACHE_HOME=" + shell_quote((dir_ / "cache").string()) +
           " AWS_ACCESS_KEY_ID=" + ak_ +
           " AWS_SECRET_ACCESS_KEY=" + shell_quote(secret.empty() ? sk_ : secret) +
           " AWS_REGION=us-east-1 AWS_ENDPOINT_URL=" + url_ + " " + ASSAY_EVALCTL_BIN + " " + args;
  }
  json objects(const std::string& prefix) {
    auto r = run_command(python_ + " " + helper() + " objects " + url_ + " " + ak_ + " " +
                         shell_quote(sk_) + " assay-bucket " + prefix);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return json::parse(r.output.substr(r.output.find('{')));
  }
  int recorded_puts(const std::string& url_part) {
    int n = 0;
    std::string text = assay::read_file(dir_ / "server" / "moto_recording");
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      start = end + 1;
      if (line.empty()) continue;
      json j = json::parse(line);
      if (j.value("method", "") == "PUT" && j.value("url", "").find(url_part) != std::string::npos)
        ++n;
    }
    return n;
  }

  std::string moto_, python_, url_, ak_, sk_;
  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(MotoTest, SubmitStagesToS3AndSignaturesAreVerified) {
  std::string data = "{\"id\": \"q1\", \"instruction\": \"What is RAG?\"}\n";
  assay::atomic_write(dir_ / "job" / "data" / "test.jsonl", data);
  assay::atomic_write(dir_ / "job" / "model" / "config.json", "{\"model_type\": \"llama\"}");
  assay::atomic_write(dir_ / "job" / "model" / "sub" / "weights.bin", std::string(1000, 'w'));
  json spec = {{"image_uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/assay:latest"},
               {"role_arn", "arn:aws:iam::123456789012:role/SageMakerRole"},
               {"inputs", {{"data", "data/test.jsonl"}, {"model", "model"}}},
               {"staging", "s3://assay-bucket/staging/"},
               {"output", "s3://assay-bucket/"},  // bucket root: see S3::list on moto
               {"environment", {{"IS_DUMMY", "true"}}}};
  assay::atomic_write(dir_ / "job" / "job.json", spec.dump());
  auto submit = run_command(evalctl("submit " + (dir_ / "job" / "job.json").string()));
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  json line = json::parse(submit.output.substr(submit.output.rfind("{\"action\"")));
  std::string name = line["job"];
  EXPECT_EQ(line["action"], "created");

  // Content-addressed staging, checked with boto3 and a hash computed here.
  std::string data_hash = assay::sha256_hex(data);
  json staged = objects("staging/inputs/");
  EXPECT_EQ(staged.value("staging/inputs/" + data_hash + "/test.jsonl", ""), data_hash)
      << staged.dump();
  EXPECT_EQ(staged.size(), 3u) << staged.dump();  // test.jsonl, config.json, sub/weights.bin
  bool weights = false;
  for (const auto& [key, hash] : staged.items()) {
    weights |=
        key.ends_with("/sub/weights.bin") && hash == assay::sha256_hex(std::string(1000, 'w'));
  }
  EXPECT_TRUE(weights) << staged.dump();

  auto status = run_command(evalctl("status " + name));
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("\"status\":\"Completed\""), std::string::npos)
      << status.output;  // moto completes at once
  auto list = run_command(evalctl("list --name-contains " + name.substr(0, 14)));
  EXPECT_NE(list.output.find(name), std::string::npos) << list.output;

  // Resubmitting the same spec starts nothing; a changed spec sharing the inputs uploads nothing.
  auto again = run_command(evalctl("submit " + (dir_ / "job" / "job.json").string()));
  EXPECT_NE(again.output.find("already-completed"), std::string::npos) << again.output;
  spec["environment"]["IS_DUMMY"] = "false";
  assay::atomic_write(dir_ / "job" / "job2.json", spec.dump());
  auto second = run_command(evalctl("submit " + (dir_ / "job" / "job2.json").string()));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.output.find(name), std::string::npos) << "a changed spec must get a new name";
  EXPECT_EQ(recorded_puts("/staging/inputs/" + data_hash + "/test.jsonl"), 1);

  // results: downloads what the job wrote under its output prefix.
  ASSERT_EQ(
      run_command(python_ + " " + helper() + " put " + url_ + " " + ak_ + " " + shell_quote(sk_) +
                  " assay-bucket " + name + "/summary.json '{\"accuracy\": 0.5}'")
          .exit_code,
      0);
  auto results = run_command(evalctl("results " + name + " " + (dir_ / "dl").string()));
  EXPECT_EQ(results.exit_code, 0) << results.output;
  EXPECT_EQ(assay::read_file(dir_ / "dl" / "summary.json"), "{\"accuracy\": 0.5}");

  // A wrong secret is rejected by moto's SigV4 check.
  auto wrong = run_command(evalctl("status " + name, "not-the-secret"));
  EXPECT_EQ(wrong.exit_code, 4) << wrong.output;
  EXPECT_NE(wrong.output.find("403"), std::string::npos) << wrong.output;
  EXPECT_NE(wrong.output.find("SignatureDoesNotMatch"), std::string::npos) << wrong.output;
}

TEST_F(MotoTest, MultipartUploadAboveThePartSize) {
  // Part size 5 MiB (S3's minimum) stands in for the 64 MiB production threshold.
  std::string content;
  for (int i = 0; content.size() < (11u << 20); ++i) content += "line " + std::to_string(i) + "\n";
  assay::atomic_write(dir_ / "big.bin", content);
  auto http = assay::submit::make_http_client_for_aws();
  assay::submit::AwsClientOptions options;
  options.region = "us-east-1";
  options.s3 = {url_, true};
  assay::submit::AwsClient client(http.get(), {ak_, sk_, "", "test"}, options);
  assay::submit::S3 s3(&client, nullptr, 5u << 20);
  // A key that needs encoding (not "+": moto rejects boto3's signature for that too).
  assay::submit::S3Uri object{"assay-bucket", "big/part test.bin"};
  EXPECT_FALSE(s3.exists(object));
  s3.put_file(object, dir_ / "big.bin");
  EXPECT_TRUE(s3.exists(object));
  json listed = objects("big/");
  EXPECT_EQ(listed.value("big/part test.bin", ""), assay::sha256_hex(content)) << listed.dump();
  EXPECT_EQ(s3.get(object).size(), content.size());
  EXPECT_GE(recorded_puts("partNumber=3"), 1) << "expected 3 parts";
}

// `logs` of a processing job through moto's SigV4 check: the events of its streams in
// /aws/sagemaker/ProcessingJobs; a wrong secret is refused.
TEST_F(MotoTest, ProcessingJobLogsAreReadWithASignedRequest) {
  auto r = run_command(python_ + " " + helper() + " log " + url_ + " " + ak_ + " " +
                       shell_quote(sk_) + " /aws/sagemaker/ProcessingJobs job-1/algo-1-17 " +
                       "'loading model' 'wrote summary.json'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto logs = run_command(evalctl("logs job-1"));
  ASSERT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_NE(logs.output.find("job-1/algo-1-17 loading model\njob-1/algo-1-17 wrote summary.json\n"),
            std::string::npos)
      << logs.output;
  auto wrong = run_command(evalctl("logs job-1", "not-the-secret"));
  EXPECT_EQ(wrong.exit_code, 4) << wrong.output;
  EXPECT_EQ(wrong.output.find("loading model"), std::string::npos) << wrong.output;
}

// `results --backend local` of a job that delivered to s3:// reads it back through moto's
// SigV4 check. The job folder is written here as the local backend leaves it (state.json).
TEST_F(MotoTest, LocalJobResultsDeliveredToS3AreDownloaded) {
  fs::path jobs = dir_ / "jobs";
  assay::atomic_write(jobs / "local-job-1" / "state.json",
                      json{{"job", "local-job-1"},
                           {"status", "Completed"},
                           {"backend", "local"},
                           {"results", "s3://assay-bucket/local-job-1/"}}
                          .dump());
  auto r =
      run_command(python_ + " " + helper() + " put " + url_ + " " + ak_ + " " + shell_quote(sk_) +
                  " assay-bucket local-job-1/merged/summary.json " + "'{\"n\": 60}'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string flags = " --backend local --local-jobs-dir " + shell_quote(jobs.string());
  fs::path dest = dir_ / "fetched";
  auto fetched = run_command(evalctl("results local-job-1 " + shell_quote(dest.string()) + flags));
  ASSERT_EQ(fetched.exit_code, 0) << fetched.output;
  EXPECT_EQ(assay::read_file(dest / "merged" / "summary.json"), "{\"n\": 60}");
  auto wrong = run_command(
      evalctl("results local-job-1 " + shell_quote((dir_ / "x").string()) + flags, "bad"));
  EXPECT_EQ(wrong.exit_code, 4) << wrong.output;
  EXPECT_NE(wrong.output.find("SignatureDoesNotMatch"), std::string::npos) << wrong.output;
}

// `--backend batch` logs and results: Batch (the local endpoint that checks SigV4) hands the job
// to a training job; its CloudWatch streams and its S3 output come from moto, also checking
// SigV4, with the same key. The archives are unpacked safely; one that escapes is refused.
TEST_F(MotoTest, BatchLogsAndResultsOfTheTrainingJob) {
  assay::testing::FakeBatchServer batch(ak_, sk_);
  batch.add_queue("gpu", false);
  json spec = {{"image_uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/assay:latest"},
               {"role_arn", "arn:aws:iam::123456789012:role/SageMakerRole"},
               {"inputs", {{"data", "s3://assay-bucket/data/test.jsonl"}}},
               {"output", "s3://assay-bucket/"},
               {"environment", {{"IS_DUMMY", "true"}}}};
  assay::atomic_write(dir_ / "job" / "job.json", spec.dump());
  std::string batch_env = "AWS_ENDPOINT_URL_BATCH=http://127.0.0.1:" + std::to_string(batch.port());
  auto with_batch = [&](const std::string& args) {
    std::string line = evalctl(args);
    return line.replace(line.find(" AWS_REGION="), 0, " " + batch_env);
  };
  auto submit = run_command(
      with_batch("submit --backend batch --queue gpu " + (dir_ / "job" / "job.json").string()));
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  std::string name = batch.jobs()[0]["jobName"], id = batch.jobs()[0]["jobId"];

  // Before Batch starts a training job there is nothing to show.
  auto early = run_command(with_batch("logs --backend batch --queue gpu " + name));
  EXPECT_EQ(early.exit_code, 2) << early.output;  // not found (yet)
  EXPECT_NE(early.output.find("has no SageMaker training job yet"), std::string::npos)
      << early.output;

  batch.advance(id, 10);            // ... SCHEDULED (training job exists) ... SUCCEEDED
  std::string training_job = name;  // the fake names the training job after the payload's
  auto put_log = [&](const std::string& group, const std::string& stream, const std::string& m) {
    auto r = run_command(python_ + " " + helper() + " log " + url_ + " " + ak_ + " " +
                         shell_quote(sk_) + " " + group + " " + stream + " " + shell_quote(m));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  };
  put_log("/aws/sagemaker/TrainingJobs", training_job + "/algo-1-1700000000", "loading model");
  put_log("/aws/sagemaker/TrainingJobs", "other-job/algo-1-1700000000", "not ours");
  put_log("/aws/sagemaker/ProcessingJobs", training_job + "/algo-1-1700000000", "wrong group");
  auto logs = run_command(with_batch("logs --backend batch --queue gpu " + name));
  ASSERT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_NE(logs.output.find(training_job + "/algo-1-1700000000 loading model\n"),
            std::string::npos)
      << logs.output;
  EXPECT_EQ(logs.output.find("wrong group"), std::string::npos) << logs.output;
  // moto ignores logStreamNamePrefix (it returned "not ours" too), so the request is checked.
  auto sent =
      run_command(python_ + " -c " +
                  shell_quote("import base64, json, sys\n"
                              "for line in open(sys.argv[1]):\n"
                              "    r = json.loads(line)\n"
                              "    if r.get('headers', {}).get('X-Amz-Target') == "
                              "'Logs_20140328.FilterLogEvents':\n"
                              "        print(base64.b64decode(r.get('body') or b'').decode())\n") +
                  " " + shell_quote((dir_ / "server" / "moto_recording").string()));
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  EXPECT_NE(sent.output.find(
                "\"logGroupName\":\"/aws/sagemaker/TrainingJobs\",\"logStreamNamePrefix\":\"" +
                training_job + "/\""),
            std::string::npos)
      << sent.output;

  // SageMaker's training output: model.tar.gz (from /opt/ml/model), output.tar.gz.
  fs::path src = dir_ / "src";
  assay::atomic_write(src / "model" / "config.json", "{\"model_type\": \"llama\"}");
  assay::atomic_write(src / "output" / "eval" / "summary.json", "{\"accuracy\": 0.75}");
  ASSERT_EQ(run_command("cd " + shell_quote(src.string()) +
                        " && tar czf model.tar.gz -C model . && tar czf output.tar.gz -C output .")
                .exit_code,
            0);
  auto put_file = [&](const std::string& key, const fs::path& file) {
    auto r =
        run_command(python_ + " " + helper() + " put-file " + url_ + " " + ak_ + " " +
                    shell_quote(sk_) + " assay-bucket " + key + " " + shell_quote(file.string()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  };
  put_file(training_job + "/output/model.tar.gz", src / "model.tar.gz");
  put_file(training_job + "/output/output.tar.gz", src / "output.tar.gz");
  fs::path dest = dir_ / "results";
  auto results = run_command(
      with_batch("results --backend batch --queue gpu " + name + " " + shell_quote(dest.string())));
  ASSERT_EQ(results.exit_code, 0) << results.output;
  EXPECT_EQ(assay::read_file(dest / "model" / "config.json"), "{\"model_type\": \"llama\"}");
  EXPECT_EQ(assay::read_file(dest / "output" / "eval" / "summary.json"), "{\"accuracy\": 0.75}");
  EXPECT_FALSE(fs::exists(dest / "model.tar.gz")) << "unpacked, not left beside";
  EXPECT_NE(results.output.find("\"unpacked\":[\"model.tar.gz\",\"output.tar.gz\"]"),
            std::string::npos)
      << results.output;

  // An archive entry that leaves the folder is refused (exit 2), as the model loader refuses it.
  ASSERT_EQ(run_command(python_ + " -c " +
                        shell_quote("import io,tarfile; t=tarfile.open('" +
                                    (src / "evil.tar.gz").string() +
                                    "','w:gz'); d=b'x'; i=tarfile.TarInfo('../escaped.txt'); "
                                    "i.size=1; t.addfile(i, io.BytesIO(d)); t.close()"))
                .exit_code,
            0);
  put_file(training_job + "/output/model.tar.gz", src / "evil.tar.gz");
  fs::path dest2 = dir_ / "results2" / "in";
  auto evil = run_command(with_batch("results --backend batch --queue gpu " + name + " " +
                                     shell_quote(dest2.string())));
  EXPECT_EQ(evil.exit_code, 2) << evil.output;
  EXPECT_NE(evil.output.find("model.tar.gz"), std::string::npos) << evil.output;
  EXPECT_FALSE(fs::exists(dir_ / "results2" / "escaped.txt"));
  EXPECT_FALSE(fs::exists(dest2 / "escaped.txt"));
}

}  // namespace
