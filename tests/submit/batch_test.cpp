// Drives `evalctl --backend batch` (the binary) against FakeBatchServer, a local AWS Batch
// service-job endpoint that checks SigV4 with its own credentials and replays the documented
// states; validates every dry-run request body against botocore's `batch` and `sagemaker`
// models; and cross-checks the fake's signature check with independent signers (botocore,
// curl --aws-sigv4).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/e2e/process.h"
#include "tests/submit/fake_batch_server.h"

namespace {

namespace fs = std::filesystem;
using assay::testing::FakeBatchServer;
using assay::testing::run_command;
using assay::testing::shell_quote;
using nlohmann::json;

constexpr const char* kKey = "AKTESTBATCH";
constexpr const char* kSecret = "batch/secret+KEY";

std::string python() {
  return fs::exists("/root/.pyenv/shims/python3") ? "/root/.pyenv/shims/python3" : "python3";
}

// The JSON lines of `text` that parse and carry `key`.
std::vector<json> lines_with(const std::string& text, const std::string& key) {
  std::vector<json> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    try {
      json j = json::parse(line);
      if (j.is_object() && j.contains(key)) out.push_back(j);
    } catch (const json::exception&) {
    }
  }
  return out;
}

class BatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("assay_batch_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    spec_ = {{"name_prefix", "assay-eval"},
             {"image_uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/assay:latest"},
             {"role_arn", "arn:aws:iam::123456789012:role/SageMakerRole"},
             {"inputs",
              {{"model", "s3://bucket/models/twin/"}, {"data", "s3://bucket/data/test.jsonl"}}},
             {"output", "s3://bucket/eval-results/"},
             {"environment", {{"IS_DUMMY", "true"}}},
             {"hyperparameters", {{"judge.model", "gpt-4o-mini"}}},
             {"tags", {{"team", "search"}}}};
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_spec(const json& spec, const std::string& file = "job.json") {
    assay::atomic_write(dir_ / file, spec.dump(2));
    return (dir_ / file).string();
  }
  // An evalctl command line pointed at the fake; `cache` separates lock folders ("machines").
  std::string evalctl(int port, const std::string& args, const std::string& secret = kSecret,
                      const std::string& cache = "cache") {
    return "env -i PATH=/usr/bin:/bin HOME=" + shell_quote(dir_.string()) +
           " XDG_CACHE_HOME=" + shell_quote((dir_ / cache).string()) +
           " AWS_ACCESS_KEY_ID=" + kKey + " AWS_SECRET_ACCESS_KEY=" + shell_quote(secret) +
           " AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:1"
           " AWS_ENDPOINT_URL_BATCH=http://127.0.0.1:" +
           std::to_string(port) + " " + ASSAY_EVALCTL_BIN + " " + args;
  }

  fs::path dir_;
  json spec_;
};

TEST_F(BatchTest, SubmitResubmitStatusWaitListStop) {
  FakeBatchServer fake(kKey, kSecret);
  fake.add_queue("gpu-fss", true);
  std::string spec = write_spec(spec_);
  std::string submit =
      "submit --backend batch --queue gpu-fss --share-identifier research --priority 40 " + spec;
  auto first = run_command(evalctl(fake.port(), submit));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("\"action\":\"created\""), std::string::npos) << first.output;
  ASSERT_EQ(fake.jobs().size(), 1u);
  json job = fake.jobs()[0];
  std::string name = job["jobName"].get<std::string>(), id = job["jobId"].get<std::string>();
  EXPECT_EQ(job["shareIdentifier"], "research");
  EXPECT_EQ(job["schedulingPriority"], 40);
  EXPECT_EQ(job["serviceJobType"], "SAGEMAKER_TRAINING");
  json payload = json::parse(job["serviceRequestPayload"].get<std::string>());
  EXPECT_EQ(payload["TrainingJobName"], name);
  EXPECT_EQ(payload["HyperParameters"]["judge.model"], "gpt-4o-mini");
  EXPECT_EQ(payload["Environment"]["MODEL_PATH"], "/opt/ml/input/data/model");
  EXPECT_EQ(payload["Environment"]["DATASET_PATH"], "/opt/ml/input/data/data");
  EXPECT_FALSE(payload["Environment"].contains("OUTPUT_DIR"));

  // Resubmitting while it waits in the queue attaches; nothing is queued twice.
  auto second = run_command(evalctl(fake.port(), submit));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("\"action\":\"attached\""), std::string::npos) << second.output;
  EXPECT_EQ(fake.count("SubmitServiceJob"), 1);
  EXPECT_EQ(fake.jobs().size(), 1u);

  // Status: no training job yet while RUNNABLE; its name and ARN once Batch scheduled it.
  fake.advance(id, 2);
  auto status = run_command(evalctl(fake.port(), "status --backend batch --queue gpu-fss " + name));
  ASSERT_EQ(status.exit_code, 0) << status.output;
  auto line = lines_with(status.output, "job_id");
  ASSERT_EQ(line.size(), 1u) << status.output;
  EXPECT_EQ(line[0]["status"], "RUNNABLE");
  EXPECT_FALSE(line[0].contains("training_job")) << status.output;
  fake.advance(id, 1);
  status = run_command(evalctl(fake.port(), "status --backend batch --queue gpu-fss " + name));
  line = lines_with(status.output, "job_id");
  ASSERT_EQ(line.size(), 1u) << status.output;
  EXPECT_EQ(line[0]["status"], "SCHEDULED");
  EXPECT_EQ(line[0]["training_job"], name);
  EXPECT_EQ(line[0]["training_job_arn"],
            "arn:aws:sagemaker:us-east-1:123456789012:training-job/" + name);
  EXPECT_EQ(line[0]["results"], "s3://bucket/eval-results/" + name + "/output/");

  // wait follows SCHEDULED -> STARTING -> RUNNING -> SUCCEEDED (each describe moves it on).
  fake.advance_on_describe = true;
  auto wait = run_command(
      evalctl(fake.port(), "wait --backend batch --queue gpu-fss --poll-s 0.01 " + name));
  EXPECT_EQ(wait.exit_code, 0) << wait.output;
  size_t at = 0;
  for (const char* s :
       {"\"status\":\"STARTING\"", "\"status\":\"RUNNING\"", "\"status\":\"SUCCEEDED\""}) {
    size_t next = wait.output.find(s, at);
    ASSERT_NE(next, std::string::npos) << s << " missing or out of order:\n" << wait.output;
    at = next;
  }
  fake.advance_on_describe = false;

  // Succeeded: a resubmission starts nothing and says where the results are.
  auto third = run_command(evalctl(fake.port(), submit));
  EXPECT_EQ(third.exit_code, 0) << third.output;
  EXPECT_NE(third.output.find("\"action\":\"already-completed\""), std::string::npos)
      << third.output;
  EXPECT_EQ(fake.count("SubmitServiceJob"), 1);

  // A second evaluation; list shows both (pages of 1 force nextToken), stop terminates one.
  fake.page_size = 1;
  json other = spec_;
  other["environment"]["IS_DUMMY"] = "false";
  std::string submit2 = "submit --backend batch --queue gpu-fss --share-identifier research " +
                        write_spec(other, "other.json");
  ASSERT_EQ(run_command(evalctl(fake.port(), submit2)).exit_code, 0);
  ASSERT_EQ(fake.jobs().size(), 2u);
  std::string name2 = fake.jobs()[1]["jobName"].get<std::string>();
  auto list = run_command(evalctl(fake.port(), "list --backend batch --queue gpu-fss"));
  ASSERT_EQ(list.exit_code, 0) << list.output;
  auto listed = lines_with(list.output, "job_id");
  ASSERT_EQ(listed.size(), 2u) << list.output;
  EXPECT_EQ(listed[0]["job"], name2);  // newest first
  EXPECT_EQ(listed[1]["job"], name);
  auto only =
      run_command(evalctl(fake.port(), "list --backend batch --queue gpu-fss --status SUCCEEDED"));
  ASSERT_EQ(lines_with(only.output, "job_id").size(), 1u) << only.output;

  auto stop = run_command(evalctl(fake.port(), "stop --backend batch --queue gpu-fss " + name2));
  ASSERT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_EQ(fake.count("TerminateServiceJob"), 1);
  auto stopped = lines_with(stop.output, "job_id");
  ASSERT_EQ(stopped.size(), 1u) << stop.output;
  EXPECT_EQ(stopped[0]["status"], "FAILED");
  EXPECT_EQ(stopped[0]["status_reason"], "stopped with evalctl");
  auto wait_failed =
      run_command(evalctl(fake.port(), "wait --backend batch --queue gpu-fss " + name2));
  EXPECT_EQ(wait_failed.exit_code, 4) << wait_failed.output;

  // A failed attempt is not retried unless asked; then it is queued as <name>-r2.
  auto again = run_command(evalctl(fake.port(), submit2));
  EXPECT_EQ(again.exit_code, 4) << again.output;
  EXPECT_NE(again.output.find("--retry-failed"), std::string::npos) << again.output;
  auto retry = run_command(evalctl(fake.port(), submit2 + " --retry-failed"));
  EXPECT_EQ(retry.exit_code, 0) << retry.output;
  ASSERT_EQ(fake.jobs().size(), 3u);
  EXPECT_EQ(fake.jobs()[2]["jobName"], name2 + "-r2");

  auto missing =
      run_command(evalctl(fake.port(), "status --backend batch --queue gpu-fss assay-eval-nope"));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_EQ(fake.auth_failures(), 0);
}

TEST_F(BatchTest, ConcurrentSubmitsQueueOneJob) {
  // One machine: the job lock serialises list -> submit; one SubmitServiceJob in all.
  {
    FakeBatchServer fake(kKey, kSecret);
    fake.add_queue("fifo", false);
    fake.submit_delay_ms = 300;
    std::string one =
        evalctl(fake.port(), "submit --backend batch --queue fifo " + write_spec(spec_));
    auto r = run_command(one + " > " + (dir_ / "o1").string() + " 2>&1 & p1=$!; " + one + " > " +
                         (dir_ / "o2").string() +
                         " 2>&1 & p2=$!; wait $p1; r1=$?; wait $p2; r2=$?; echo rc $r1 $r2");
    EXPECT_NE(r.output.find("rc 0 0"), std::string::npos)
        << r.output << assay::read_file(dir_ / "o1") << assay::read_file(dir_ / "o2");
    EXPECT_EQ(fake.count("SubmitServiceJob"), 1);
    EXPECT_EQ(fake.jobs().size(), 1u);
  }
  // Two machines (no shared lock), both see an empty queue and submit: the clientToken makes
  // the second the same job, whether Batch answers with that job or rejects the request.
  for (bool reject : {false, true}) {
    SCOPED_TRACE(reject ? "duplicate token rejected" : "duplicate token answered");
    FakeBatchServer fake(kKey, kSecret);
    fake.add_queue("fifo", false);
    fake.submit_delay_ms = 500;
    fake.reject_duplicate_token = reject;
    std::string args = "submit --backend batch --queue fifo " + write_spec(spec_);
    std::string a = evalctl(fake.port(), args, kSecret, "cacheA");
    std::string b = evalctl(fake.port(), args, kSecret, "cacheB");
    auto r = run_command(a + " > " + (dir_ / "o3").string() + " 2>&1 & p1=$!; " + b + " > " +
                         (dir_ / "o4").string() +
                         " 2>&1 & p2=$!; wait $p1; r1=$?; wait $p2; r2=$?; echo rc $r1 $r2");
    std::string outputs = assay::read_file(dir_ / "o3") + assay::read_file(dir_ / "o4");
    EXPECT_NE(r.output.find("rc 0 0"), std::string::npos) << r.output << outputs;
    EXPECT_EQ(fake.jobs().size(), 1u) << outputs;
    EXPECT_LE(fake.count("SubmitServiceJob"), 2);
    if (reject && fake.count("SubmitServiceJob") == 2) {
      EXPECT_NE(outputs.find("submitted concurrently"), std::string::npos) << outputs;
    }
  }
}

TEST_F(BatchTest, QueueViewPerShare) {
  FakeBatchServer fake(kKey, kSecret);
  fake.add_queue("gpu-fss", true);
  struct Job {
    const char* share;
    int priority;
    int steps;  // 2 = RUNNABLE, 5 = RUNNING, 0 = SUBMITTED
  } plan[] = {{"prod", 10, 5},
              {"research", 10, 2},
              {"research", 90, 2},
              {"sweeps", 50, 2},
              {"sweeps", 1, 0}};
  std::vector<std::string> names;
  for (size_t i = 0; i < std::size(plan); ++i) {
    json s = spec_;
    s["environment"]["RUN"] = std::to_string(i);
    std::string args = "submit --backend batch --queue gpu-fss --share-identifier " +
                       std::string(plan[i].share) + " --priority " +
                       std::to_string(plan[i].priority) + " " +
                       write_spec(s, "job" + std::to_string(i) + ".json");
    auto r = run_command(evalctl(fake.port(), args));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    json job = fake.jobs().back();
    names.push_back(job["jobName"].get<std::string>());
    fake.advance(job["jobId"].get<std::string>(), plan[i].steps);
  }
  auto q = run_command(evalctl(fake.port(), "queue gpu-fss"));
  ASSERT_EQ(q.exit_code, 0) << q.output;
  auto head = lines_with(q.output, "order");
  ASSERT_EQ(head.size(), 1u) << q.output;
  EXPECT_EQ(head[0]["order"], "batch");
  EXPECT_EQ(head[0]["running"], 1);
  EXPECT_EQ(head[0]["runnable"], 3);
  EXPECT_EQ(head[0]["pending"], 1);
  std::map<std::string, json> shares;
  for (const auto& l : lines_with(q.output, "share")) shares[l["share"].get<std::string>()] = l;
  ASSERT_EQ(shares.size(), 3u) << q.output;
  ASSERT_EQ(shares["prod"]["running"].size(), 1u);
  EXPECT_EQ(shares["prod"]["running"][0]["job"], names[0]);
  EXPECT_EQ(shares["prod"]["running"][0]["training_job"], names[0]);
  EXPECT_EQ(shares["prod"]["capacity"][0]["quantity"], 1.0);
  // The fake dispatches by priority (90, 50, 10): research's 90 first, then sweeps, research.
  ASSERT_EQ(shares["research"]["next"].size(), 2u);
  EXPECT_EQ(shares["research"]["next"][0]["job"], names[2]);
  EXPECT_EQ(shares["research"]["next"][0]["position"], 1);
  EXPECT_EQ(shares["research"]["next"][1]["job"], names[1]);
  EXPECT_EQ(shares["research"]["next"][1]["position"], 3);
  ASSERT_EQ(shares["sweeps"]["next"].size(), 1u);
  EXPECT_EQ(shares["sweeps"]["next"][0]["position"], 2);
  EXPECT_EQ(shares["sweeps"]["pending"], 1);

  // The table for people: one row per job; research's priority-90 job is first in the queue.
  auto table = run_command(evalctl(fake.port(), "queue gpu-fss --table"));
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("1 running, 3 runnable, 1 submitted/pending"), std::string::npos)
      << table.output;
  EXPECT_NE(table.output.find("research      RUNNABLE   1     " + names[2]), std::string::npos)
      << table.output;
  EXPECT_NE(table.output.find("prod          RUNNING          " + names[0] + "  "),
            std::string::npos)
      << table.output;

  // Without GetJobQueueSnapshot (not allowed), RUNNABLE jobs are shown oldest first.
  fake.snapshot_denied = true;
  auto fallback = run_command(evalctl(fake.port(), "queue gpu-fss"));
  ASSERT_EQ(fallback.exit_code, 0) << fallback.output;
  auto head2 = lines_with(fallback.output, "order");
  ASSERT_EQ(head2.size(), 1u) << fallback.output;
  EXPECT_EQ(head2[0]["order"], "created");
  for (const auto& l : lines_with(fallback.output, "share")) {
    if (l["share"] == "research") {
      EXPECT_EQ(l["next"][0]["job"], names[1]) << fallback.output;
      EXPECT_EQ(l["next"][0]["position"], 1);
    }
  }
}

TEST_F(BatchTest, WrongSecretIsRejectedClearly) {
  FakeBatchServer fake(kKey, kSecret);
  fake.add_queue("fifo", false);
  auto r = run_command(evalctl(
      fake.port(), "submit --backend batch --queue fifo " + write_spec(spec_), "not-the-secret"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("HTTP 403"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("InvalidSignatureException"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Secret Access Key"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("not-the-secret"), std::string::npos) << "secret printed";
  EXPECT_GE(fake.auth_failures(), 1);
  EXPECT_EQ(fake.jobs().size(), 0u);
}

// The fake's signature check agrees with signers that share no code with core/sigv4: botocore's
// SigV4Auth and curl's --aws-sigv4 are accepted with the right secret, refused with a wrong one.
TEST_F(BatchTest, FakeAcceptsIndependentSigners) {
  FakeBatchServer fake(kKey, kSecret);
  fake.add_queue("fifo", false);
  std::string url = "http://127.0.0.1:" + std::to_string(fake.port()) + "/v1/listservicejobs";
  std::string body = R"({"jobQueue":"fifo","jobStatus":"RUNNING"})";
  int checked = 0;
  if (run_command(python() + " -c 'import botocore'").exit_code == 0) {
    assay::atomic_write(dir_ / "sign.py", R"(import sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, body, key, secret = sys.argv[1:5]
req = AWSRequest(method="POST", url=url, data=body.encode(), headers={"Content-Type": "application/json"})
SigV4Auth(Credentials(key, secret), "batch", "us-east-1").add_auth(req)
r = urllib.request.Request(url, data=req.body, headers=dict(req.headers.items()), method="POST")
try:
    print("status", urllib.request.urlopen(r).status)
except urllib.error.HTTPError as e:
    print("status", e.code, e.headers.get("x-amzn-ErrorType"))
)");
    auto sign = [&](const std::string& secret) {
      return run_command(python() + " " + (dir_ / "sign.py").string() + " " + shell_quote(url) +
                         " " + shell_quote(body) + " " + kKey + " " + shell_quote(secret))
          .output;
    };
    EXPECT_NE(sign(kSecret).find("status 200"), std::string::npos) << sign(kSecret);
    std::string wrong = sign("wrong-secret");
    EXPECT_NE(wrong.find("status 403 InvalidSignatureException"), std::string::npos) << wrong;
    ++checked;
  }
  if (run_command("curl --help all 2>/dev/null | grep -q aws-sigv4").exit_code == 0) {
    auto curl = [&](const std::string& secret) {
      return run_command(
                 "curl -s -o /dev/null -w 'status %{http_code}' --aws-sigv4 "
                 "aws:amz:us-east-1:batch --user " +
                 shell_quote(std::string(kKey) + ":" + secret) +
                 " -H 'Content-Type: application/json' --data " + shell_quote(body) + " " + url)
          .output;
    };
    EXPECT_NE(curl(kSecret).find("status 200"), std::string::npos) << curl(kSecret);
    EXPECT_NE(curl("wrong-secret").find("status 403"), std::string::npos);
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "neither python3 with botocore nor curl with --aws-sigv4";
  EXPECT_EQ(fake.count("ListServiceJobs"), checked);
}

TEST_F(BatchTest, BadSpecsAndFlagsFailBeforeAnyCall) {
  FakeBatchServer fake(kKey, kSecret);
  fake.add_queue("fifo", false);
  std::string spec = write_spec(spec_);
  struct Case {
    const char* what;
    std::string args;
    const char* says;
  } cases[] = {
      {"bad queue name", "submit --backend batch --queue 'gpu queue!' " + spec, "--queue"},
      {"no queue", "submit --backend batch " + spec, "--queue is required"},
      {"priority too high", "submit --backend batch --queue fifo --priority 10000 " + spec,
       "0..9999"},
      {"negative priority", "submit --backend batch --queue fifo --priority -5 " + spec,
       "--priority"},
      {"attempts 0", "submit --backend batch --queue fifo --attempts 0 " + spec, "1..10"},
      {"attempts 11", "submit --backend batch --queue fifo --attempts 11 " + spec, "1..10"},
      {"bad share", "submit --backend batch --queue fifo --share-identifier 'a-b' " + spec,
       "--share-identifier"},
      {"queue without batch", "submit --queue fifo " + spec, "needs --backend batch"},
      {"status without queue", "status --backend batch assay-eval-x", "--queue is required"},
      {"list bad status", "list --backend batch --queue fifo --status Completed",
       "not an AWS Batch job status"},
      {"queue bad name", "queue 'no such queue'", "--queue"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    for (const char* dry : {"", " --dry-run"}) {
      if (*dry && c.args.rfind("submit", 0) != 0) continue;
      auto r = run_command(evalctl(fake.port(), c.args + dry));
      EXPECT_EQ(r.exit_code, 2) << r.output;
      EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
      EXPECT_EQ(r.output.find("\"path\""), std::string::npos) << "printed a request: " << r.output;
    }
  }
  struct SpecCase {
    const char* what;
    std::function<void(json&)> edit;
    const char* field;
  } spec_cases[] = {
      {"custom local_path",
       [](json& j) {
         j["inputs"]["model"] = {{"source", "s3://bucket/m/"},
                                 {"local_path", "/opt/ml/processing/input/m"}};
       },
       "'inputs.model.local_path'"},
      {"output_local_path", [](json& j) { j["output_local_path"] = "/opt/ml/processing/out"; },
       "'output_local_path'"},
      {"secret hyperparameter", [](json& j) { j["hyperparameters"]["OPENAI_API_KEY"] = "sk-x"; },
       "'hyperparameters.OPENAI_API_KEY'"},
      {"hyperparameter with a newline", [](json& j) { j["hyperparameters"]["a"] = "x\ny"; },
       "'hyperparameters.a'"},
      {"hyperparameters not strings", [](json& j) { j["hyperparameters"]["a"] = 3; },
       "'hyperparameters.a'"},
      {"50 tags",
       [](json& j) {
         for (int i = 0; i < 50; ++i) j["tags"]["t" + std::to_string(i)] = "v";
       },
       "'tags'"},
  };
  for (const auto& c : spec_cases) {
    SCOPED_TRACE(c.what);
    json j = spec_;
    c.edit(j);
    std::string bad = write_spec(j, "bad.json");
    for (const char* dry : {"", " --dry-run"}) {
      auto r = run_command(evalctl(
          fake.port(), "submit --backend batch --queue fifo" + std::string(dry) + " " + bad));
      EXPECT_EQ(r.exit_code, 2) << r.output;
      EXPECT_NE(r.output.find(c.field), std::string::npos) << r.output;
      EXPECT_EQ(r.output.find("sk-x"), std::string::npos) << "secret printed: " << r.output;
    }
  }
  // The processing backend has no hyperparameters: refused, not silently dropped.
  auto processing = run_command(evalctl(fake.port(), "submit --dry-run " + spec));
  EXPECT_EQ(processing.exit_code, 2) << processing.output;
  EXPECT_NE(processing.output.find("'hyperparameters'"), std::string::npos) << processing.output;
  EXPECT_EQ(fake.total(), 0) << "a bad spec or flag reached the network";
}

TEST_F(BatchTest, DryRunMakesNoCallAndBodiesPassBotocoreModels) {
  FakeBatchServer fake(kKey, kSecret);
  assay::atomic_write(dir_ / "data" / "test.jsonl", "{\"id\": \"a\", \"instruction\": \"q\"}\n");
  json j = spec_;
  j["inputs"]["data"] = "data/test.jsonl";
  j["staging"] = "s3://bucket/staging/";
  j["judge_api_key_secret_id"] = "assay/openai";
  j["environment"]["OPENAI_API_KEY"] = "sk-very-secret-value";
  j["hyperparameters"]["HF_TOKEN"] = "hf-very-secret-value";
  j["entrypoint"] = {"evaluate", "run"};
  std::string out = (dir_ / "dry.jsonl").string();
  auto r = run_command(evalctl(fake.port(),
                               "submit --backend batch --queue gpu-fss --share-identifier "
                               "research --priority 9999 --attempts 3 --attempt-timeout-s 7200 "
                               "--dry-run --allow-plaintext-secrets " +
                                   write_spec(j)) +
                       " > " + out + " 2> " + (dir_ / "dry.err").string());
  ASSERT_EQ(r.exit_code, 0) << r.output << assay::read_file(dir_ / "dry.err");
  EXPECT_EQ(fake.total(), 0);
  std::string text = assay::read_file(out);
  EXPECT_EQ(text.find("very-secret-value"), std::string::npos) << "secret leaked: " << text;
  std::string err = assay::read_file(dir_ / "dry.err");
  EXPECT_NE(err.find("clear text"), std::string::npos);
  // Nothing was queued: the outcome says so and shows no made-up job id or ARN.
  EXPECT_NE(err.find("\"action\":\"would-create\""), std::string::npos) << err;
  EXPECT_EQ(err.find("dry-run:000000000000"), std::string::npos) << err;
  EXPECT_EQ(err.find("\"job_id\""), std::string::npos) << err;
  auto requests = lines_with(text, "path");
  json submit;
  for (const auto& req : requests)
    if (req["path"] == "/v1/submitservicejob") submit = req["body"];
  ASSERT_FALSE(submit.is_null()) << text;
  EXPECT_EQ(submit["clientToken"].get<std::string>().size(), 64u);
  EXPECT_EQ(submit["timeoutConfig"]["attemptDurationSeconds"], 7200);
  EXPECT_EQ(submit["retryStrategy"]["attempts"], 3);
  json payload = json::parse(submit["serviceRequestPayload"].get<std::string>());
  EXPECT_EQ(payload["Environment"]["DATASET_PATH"], "/opt/ml/input/data/data/test.jsonl");
  EXPECT_EQ(payload["Environment"]["JUDGE_API_KEY_SECRET_ID"], "assay/openai");
  EXPECT_EQ(payload["Environment"]["OPENAI_API_KEY"], "***");
  EXPECT_EQ(payload["HyperParameters"]["HF_TOKEN"], "***");
  EXPECT_NE(text.find("\"path\":\"/bucket/staging/inputs/"), std::string::npos) << text;

  auto probe = run_command(python() + " -c 'import botocore, regex'");
  if (probe.exit_code != 0)
    GTEST_SKIP() << "python3 with botocore and regex is missing: " << probe.output;
  std::string validator =
      python() + " " + std::string(ASSAY_SOURCE_DIR) + "/tests/submit/validate_batch_request.py ";
  auto v = run_command(validator + out);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("ok 2"), std::string::npos) << v.output;  // List, Submit
  // The validator is not a rubber stamp: a priority of 10000 and a payload without RoleArn fail.
  json bad = submit;
  bad["schedulingPriority"] = 10000;
  json bad_payload = payload;
  bad_payload.erase("RoleArn");
  bad["serviceRequestPayload"] = bad_payload.dump();
  assay::atomic_write(
      dir_ / "bad.jsonl",
      json{
          {"service", "batch"}, {"method", "POST"}, {"path", "/v1/submitservicejob"}, {"body", bad}}
              .dump() +
          "\n");
  auto refused = run_command(validator + (dir_ / "bad.jsonl").string());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("schedulingPriority"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("RoleArn"), std::string::npos) << refused.output;
}

// Every request evalctl really sends (submit, status, list per state, wait, stop, queue) passes
// botocore's batch model; the payload passes sagemaker's CreateTrainingJob.
TEST_F(BatchTest, AllRequestsSentPassBotocoreModels) {
  auto probe = run_command(python() + " -c 'import botocore, regex'");
  if (probe.exit_code != 0)
    GTEST_SKIP() << "python3 with botocore and regex is missing: " << probe.output;
  FakeBatchServer fake(kKey, kSecret);
  fake.add_queue("gpu-fss", true);
  fake.page_size = 1;
  std::string args =
      "submit --backend batch --queue gpu-fss --share-identifier research --priority 7 "
      "--attempts 2 --attempt-timeout-s 3600 " +
      write_spec(spec_);
  ASSERT_EQ(run_command(evalctl(fake.port(), args)).exit_code, 0);
  ASSERT_EQ(run_command(evalctl(fake.port(), args)).exit_code, 0);
  std::string name = fake.jobs().at(0)["jobName"].get<std::string>();
  std::string follow = " --backend batch --queue gpu-fss ";
  for (const std::string& command :
       std::vector<std::string>{"status" + follow + name, "list" + follow, "queue gpu-fss",
                                "stop" + follow + name, "wait" + follow + name}) {
    auto r = run_command(evalctl(fake.port(), command));
    EXPECT_TRUE(r.exit_code == 0 || (command.rfind("wait", 0) == 0 && r.exit_code == 4))
        << command << ": " << r.output;
  }
  std::string lines;
  std::set<std::string> paths;
  for (const auto& req : fake.requests()) {
    lines += req.dump() + "\n";
    paths.insert(req["path"].get<std::string>());
  }
  EXPECT_EQ(paths.size(), 5u) << lines;  // all five operations were exercised
  assay::atomic_write(dir_ / "sent.jsonl", lines);
  auto v = run_command(python() + " " + std::string(ASSAY_SOURCE_DIR) +
                       "/tests/submit/validate_batch_request.py " + (dir_ / "sent.jsonl").string());
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("ok " + std::to_string(fake.requests().size())), std::string::npos)
      << v.output;
}

}  // namespace
