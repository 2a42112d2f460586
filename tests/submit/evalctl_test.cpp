// Drives the evalctl binary against a fake SageMaker JSON endpoint (cpp-httplib, real HTTP on
// 127.0.0.1) that behaves like the real one where moto does not: ResourceInUse on a duplicate
// name, InProgress jobs, ThrottlingException. Also validates every dry-run request body against
// botocore's SageMaker service model.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/e2e/process.h"

namespace {

namespace fs = std::filesystem;
using assay::testing::run_command;
using assay::testing::shell_quote;
using nlohmann::json;

// A SageMaker-like endpoint: jobs in memory, a count per X-Amz-Target.
class FakeSageMaker {
 public:
  FakeSageMaker() {
    server_.Post("/",
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeSageMaker() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  int count(const std::string& op) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[op];
  }
  int total() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [k, v] : counts_) n += v;
    return n;
  }
  void set_status(const std::string& name, const std::string& status) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_[name]["ProcessingJobStatus"] = status;
  }
  std::vector<std::string> names() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [k, v] : jobs_) out.push_back(k);
    return out;
  }
  std::string new_job_status = "InProgress";
  int throttle_next = 0;    // answer this many next calls with ThrottlingException
  int create_delay_ms = 0;  // slow Create down to widen race windows

 private:
  void error(httplib::Response& res, int status, const std::string& type,
             const std::string& message) {
    res.status = status;
    res.set_content(json{{"__type", type}, {"Message", message}}.dump(),
                    "application/x-amz-json-1.1");
  }
  void handle(const httplib::Request& req, httplib::Response& res) {
    std::string target = req.get_header_value("X-Amz-Target");
    std::string op = target.substr(target.find('.') + 1);
    std::unique_lock<std::mutex> lock(mu_);
    counts_[op]++;
    if (req.get_header_value("Authorization").rfind("AWS4-HMAC-SHA256 Credential=AKTEST/", 0) !=
            0 ||
        req.get_header_value("Content-Type") != "application/x-amz-json-1.1") {
      return error(res, 403, "IncompleteSignature", "unsigned request");
    }
    if (throttle_next > 0) {
      --throttle_next;
      return error(res, 400, "com.amazonaws.sagemaker#ThrottlingException", "Rate exceeded");
    }
    json body = json::parse(req.body);
    std::string name = body.value("ProcessingJobName", std::string());
    if (op == "DescribeProcessingJob") {
      auto it = jobs_.find(name);
      if (it == jobs_.end())
        return error(res, 400, "ValidationException", "Could not find processing job");
      res.set_content(it->second.dump(), "application/x-amz-json-1.1");
    } else if (op == "CreateProcessingJob") {
      if (create_delay_ms > 0) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(create_delay_ms));
        lock.lock();
      }
      if (jobs_.count(name)) return error(res, 400, "ResourceInUse", "Job name must be unique");
      created_++;
      json job = body;
      job.erase("Tags");
      job["ProcessingJobStatus"] = new_job_status;
      job["ProcessingJobArn"] = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/" + name;
      job["CreationTime"] = 1795312130.875;
      jobs_[name] = job;
      res.set_content(json{{"ProcessingJobArn", job["ProcessingJobArn"]}}.dump(),
                      "application/x-amz-json-1.1");
    } else if (op == "ListProcessingJobs") {
      json summaries = json::array();
      for (const auto& [k, v] : jobs_) {
        summaries.push_back(
            {{"ProcessingJobName", k}, {"ProcessingJobStatus", v["ProcessingJobStatus"]}});
      }
      res.set_content(json{{"ProcessingJobSummaries", summaries}}.dump(),
                      "application/x-amz-json-1.1");
    } else if (op == "FilterLogEvents") {
      // Two pages, as CloudWatch Logs paginates with nextToken.
      if (body.value("logGroupName", "") != "/aws/sagemaker/ProcessingJobs") {
        return error(res, 400, "ResourceNotFoundException", "no such group");
      }
      std::string stream = body.value("logStreamNamePrefix", "") + "algo-1-1700000000";
      json events = json::array();
      json answer;
      if (!body.contains("nextToken")) {
        events.push_back({{"logStreamName", stream}, {"message", "loading model"}});
        answer["nextToken"] = "page2";
      } else {
        events.push_back({{"logStreamName", stream}, {"message", "wrote summary.json"}});
      }
      answer["events"] = events;
      res.set_content(answer.dump(), "application/x-amz-json-1.1");
    } else if (op == "StopProcessingJob") {
      auto it = jobs_.find(name);
      if (it == jobs_.end()) return error(res, 400, "ResourceNotFound", "no such job");
      it->second["ProcessingJobStatus"] = "Stopped";
      res.set_content("{}", "application/x-amz-json-1.1");
    } else {
      error(res, 400, "UnknownOperationException", op);
    }
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::map<std::string, int> counts_;
  std::map<std::string, json> jobs_;
  int created_ = 0;
};

class EvalctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("assay_evalctl_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    spec_ = {{"name_prefix", "assay-eval"},
             {"image_uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/assay:latest"},
             {"role_arn", "arn:aws:iam::123456789012:role/SageMakerRole"},
             {"inputs",
              {{"model", "s3://bucket/models/twin/"}, {"data", "s3://bucket/data/test.jsonl"}}},
             {"output", "s3://bucket/eval-results/"},
             {"environment", {{"IS_DUMMY", "true"}, {"JUDGE_MODEL", "gpt-4o-mini"}}},
             {"tags", {{"team", "search"}}}};
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_spec(const json& spec, const std::string& file = "job.json") {
    assay::atomic_write(dir_ / file, spec.dump(2));
    return (dir_ / file).string();
  }
  // Environment for an evalctl child pointed at `port`; `cache` separates lock folders.
  std::string env(int port, const std::string& cache = "cache") {
    return "env -i PATH=/usr/bin:/bin HOME=" + shell_quote(dir_.string()) +
           " XDG_CACHE_HOME=" + shell_quote((dir_ / cache).string()) +
           " AWS_ACCESS_KEY_ID=AKTEST AWS_SECRET_ACCESS_KEY=fakesecret AWS_REGION=us-east-1"
           " AWS_ENDPOINT_URL=http://127.0.0.1:" +
           std::to_string(port) + " ";
  }
  std::string evalctl() const { return ASSAY_EVALCTL_BIN; }

  fs::path dir_;
  json spec_;
};

TEST_F(EvalctlTest, SubmitTwiceCreatesOnceAndAttaches) {
  FakeSageMaker fake;
  std::string spec = write_spec(spec_);
  auto first = run_command(env(fake.port()) + evalctl() + " submit " + spec);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("\"action\":\"created\""), std::string::npos) << first.output;
  auto second = run_command(env(fake.port()) + evalctl() + " submit " + spec);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("\"action\":\"attached\""), std::string::npos) << second.output;
  EXPECT_EQ(fake.count("CreateProcessingJob"), 1);
  ASSERT_EQ(fake.names().size(), 1u);

  // Completed: prints where the results are, starts nothing.
  std::string name = fake.names()[0];
  fake.set_status(name, "Completed");
  auto third = run_command(env(fake.port()) + evalctl() + " submit " + spec);
  EXPECT_EQ(third.exit_code, 0) << third.output;
  EXPECT_NE(third.output.find("\"action\":\"already-completed\""), std::string::npos)
      << third.output;
  EXPECT_NE(third.output.find("s3://bucket/eval-results/" + name + "/"), std::string::npos)
      << third.output;
  EXPECT_EQ(fake.count("CreateProcessingJob"), 1);

  // A tag-only change is the same job.
  json tagged = spec_;
  tagged["tags"]["team"] = "other";
  auto fourth =
      run_command(env(fake.port()) + evalctl() + " submit " + write_spec(tagged, "tagged.json"));
  EXPECT_NE(fourth.output.find("already-completed"), std::string::npos) << fourth.output;
  EXPECT_EQ(fake.count("CreateProcessingJob"), 1);
}

TEST_F(EvalctlTest, FailedJobIsRetriedOnlyWhenAsked) {
  FakeSageMaker fake;
  std::string spec = write_spec(spec_);
  ASSERT_EQ(run_command(env(fake.port()) + evalctl() + " submit " + spec).exit_code, 0);
  std::string name = fake.names()[0];
  fake.set_status(name, "Failed");
  auto again = run_command(env(fake.port()) + evalctl() + " submit " + spec);
  EXPECT_EQ(again.exit_code, 4) << again.output;
  EXPECT_NE(again.output.find("--retry-failed"), std::string::npos) << again.output;
  EXPECT_EQ(fake.count("CreateProcessingJob"), 1);
  auto retry = run_command(env(fake.port()) + evalctl() + " submit --retry-failed " + spec);
  EXPECT_EQ(retry.exit_code, 0) << retry.output;
  EXPECT_NE(retry.output.find(name + "-r2"), std::string::npos) << retry.output;
  EXPECT_EQ(fake.count("CreateProcessingJob"), 2);
  fake.set_status(name + "-r2", "Stopped");
  auto retry3 = run_command(env(fake.port()) + evalctl() + " submit --retry-failed " + spec);
  EXPECT_NE(retry3.output.find(name + "-r3"), std::string::npos) << retry3.output;
  // --wait follows the job to its end: Completed → 0.
  fake.set_status(name + "-r3", "Completed");
  auto wait = run_command(env(fake.port()) + evalctl() + " wait --poll-s 0.05 " + name + "-r3");
  EXPECT_EQ(wait.exit_code, 0) << wait.output;
  auto wait_failed = run_command(env(fake.port()) + evalctl() + " wait --poll-s 0.05 " + name);
  EXPECT_EQ(wait_failed.exit_code, 4) << wait_failed.output;
}

TEST_F(EvalctlTest, ConcurrentSubmitsCreateExactlyOneJob) {
  FakeSageMaker fake;
  fake.create_delay_ms = 300;
  std::string spec = write_spec(spec_);
  std::string one = env(fake.port()) + evalctl() + " submit " + spec;
  // Same machine, same lock folder: the second waits on the lock and then attaches.
  auto r = run_command(one + " > " + (dir_ / "o1").string() + " 2>&1 & p1=$!; " + one + " > " +
                       (dir_ / "o2").string() +
                       " 2>&1 & p2=$!; wait $p1; r1=$?; wait $p2; r2=$?; echo rc $r1 $r2");
  EXPECT_NE(r.output.find("rc 0 0"), std::string::npos)
      << r.output << assay::read_file(dir_ / "o1") << assay::read_file(dir_ / "o2");
  EXPECT_EQ(fake.count("CreateProcessingJob"), 1);
  EXPECT_EQ(fake.names().size(), 1u);

  // Two machines (no shared lock): both may send Create; ResourceInUse makes the loser attach.
  FakeSageMaker fake2;
  fake2.create_delay_ms = 300;
  std::string a = env(fake2.port(), "cacheA") + evalctl() + " submit " + spec;
  std::string b = env(fake2.port(), "cacheB") + evalctl() + " submit " + spec;
  auto r2 = run_command(a + " > " + (dir_ / "o3").string() + " 2>&1 & p1=$!; " + b + " > " +
                        (dir_ / "o4").string() +
                        " 2>&1 & p2=$!; wait $p1; r1=$?; wait $p2; r2=$?; echo rc $r1 $r2");
  std::string outputs = assay::read_file(dir_ / "o3") + assay::read_file(dir_ / "o4");
  EXPECT_NE(r2.output.find("rc 0 0"), std::string::npos) << r2.output << outputs;
  EXPECT_EQ(fake2.names().size(), 1u);
  EXPECT_LE(fake2.count("CreateProcessingJob"), 2);
  if (fake2.count("CreateProcessingJob") == 2) {
    EXPECT_NE(outputs.find("created concurrently"), std::string::npos) << outputs;
  }
}

TEST_F(EvalctlTest, ThrottlingIsRetried) {
  FakeSageMaker fake;
  fake.throttle_next = 2;
  auto r = run_command(env(fake.port()) + evalctl() + " submit " + write_spec(spec_));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ThrottlingException"), std::string::npos) << r.output;  // logged retries
  EXPECT_EQ(fake.count("CreateProcessingJob"), 1);
}

TEST_F(EvalctlTest, StatusListStop) {
  FakeSageMaker fake;
  ASSERT_EQ(run_command(env(fake.port()) + evalctl() + " submit " + write_spec(spec_)).exit_code,
            0);
  std::string name = fake.names()[0];
  auto status = run_command(env(fake.port()) + evalctl() + " status " + name);
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.output.find("\"status\":\"InProgress\""), std::string::npos) << status.output;
  auto list = run_command(env(fake.port()) + evalctl() + " list");
  EXPECT_NE(list.output.find(name), std::string::npos) << list.output;
  auto stop = run_command(env(fake.port()) + evalctl() + " stop " + name);
  EXPECT_NE(stop.output.find("\"status\":\"Stopped\""), std::string::npos) << stop.output;
  auto logs = run_command(env(fake.port()) + evalctl() + " logs " + name);
  EXPECT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_NE(logs.output.find(name + "/algo-1-1700000000 loading model\n"), std::string::npos)
      << logs.output;
  EXPECT_NE(logs.output.find("wrote summary.json"), std::string::npos) << logs.output;
  EXPECT_EQ(fake.count("FilterLogEvents"), 2);
  auto missing = run_command(env(fake.port()) + evalctl() + " status assay-eval-nosuchjob");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

// A backend's own flags belong to it: with another backend they are refused before any call,
// naming the flag, its backend and the backend in use (the table in eval/submit/backend.cpp).
TEST_F(EvalctlTest, AnotherBackendsFlagIsRefused) {
  FakeSageMaker fake;
  std::string spec = write_spec(spec_);
  struct Case {
    std::string args;
    const char* says;
  } cases[] = {
      {"submit --queue q " + spec,
       "--queue needs --backend batch (this command uses --backend sagemaker)"},
      {"submit --backend local --priority 5 " + spec,
       "--priority needs --backend batch (this command uses --backend local)"},
      {"submit --backend batch --queue q --evaluate /bin/true " + spec,
       "--evaluate needs --backend local (this command uses --backend batch)"},
      {"status --local-jobs-dir /tmp assay-eval-x",
       "--local-jobs-dir needs --backend local (this command uses --backend sagemaker)"},
      {"results --backend batch --queue q --local-jobs-dir /tmp assay-eval-x /tmp/x",
       "--local-jobs-dir needs --backend local (this command uses --backend batch)"},
      {"logs --backend nope assay-eval-x", "--backend"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    auto r = run_command(env(fake.port()) + evalctl() + " " + c.args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
  }
  EXPECT_EQ(fake.total(), 0) << "a refused flag reached the network";
}

TEST_F(EvalctlTest, BadSpecsFailBeforeAnyCall) {
  FakeSageMaker fake;
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* field;
  } cases[] = {
      {"name too long", [](json& j) { j["name_prefix"] = std::string(60, 'x'); }, "'name_prefix'"},
      {"101 env vars",
       [](json& j) {
         for (int i = 0; i < 101; ++i) j["environment"]["VAR_" + std::to_string(i)] = "1";
       },
       "'environment'"},
      {"LocalPath outside",
       [](json& j) {
         j["inputs"]["model"] = {{"source", "s3://bucket/m/"}, {"local_path", "/data/model"}};
       },
       "'inputs.model.local_path'"},
      {"missing role", [](json& j) { j.erase("role_arn"); }, "'role_arn'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    json j = spec_;
    c.edit(j);
    std::string spec = write_spec(j);
    for (const char* flags : {"", " --dry-run"}) {
      auto r = run_command(env(fake.port()) + evalctl() + " submit" + flags + " " + spec);
      EXPECT_EQ(r.exit_code, 2) << r.output;
      EXPECT_NE(r.output.find(c.field), std::string::npos) << r.output;
      EXPECT_EQ(r.output.find("\"target\""), std::string::npos)
          << "dry-run printed a request: " << r.output;
    }
  }
  EXPECT_EQ(fake.total(), 0) << "a bad spec reached the network";
}

TEST_F(EvalctlTest, DryRunMakesNoCallAndBodiesPassBotocoreModel) {
  FakeSageMaker fake;
  assay::atomic_write(dir_ / "data" / "test.jsonl", "{\"id\": \"a\", \"instruction\": \"q\"}\n");
  json j = spec_;
  j["inputs"]["data"] = "data/test.jsonl";
  j["staging"] = "s3://bucket/staging/";
  j["judge_api_key_secret_id"] = "assay/openai";
  j["environment"]["OPENAI_API_KEY"] = "sk-very-secret-value";
  std::string spec = write_spec(j);
  std::string out = (dir_ / "dry.jsonl").string();
  auto refused = run_command(env(fake.port()) + evalctl() + " submit --dry-run " + spec);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  auto r =
      run_command(env(fake.port()) + evalctl() + " submit --dry-run --allow-plaintext-secrets " +
                  spec + " > " + out + " 2> " + (dir_ / "dry.err").string());
  ASSERT_EQ(r.exit_code, 0) << r.output << assay::read_file(dir_ / "dry.err");
  EXPECT_EQ(fake.total(), 0);
  std::string lines = assay::read_file(out);
  EXPECT_EQ(lines.find("sk-very-secret-value"), std::string::npos)
      << "secret leaked into dry-run output";
  std::string err = assay::read_file(dir_ / "dry.err");
  EXPECT_NE(err.find("clear text"), std::string::npos) << "no warning";
  // Nothing was created: the outcome says so and shows no made-up ARN.
  EXPECT_NE(err.find("\"action\":\"would-create\""), std::string::npos) << err;
  EXPECT_EQ(err.find("\"action\":\"created\""), std::string::npos) << err;
  EXPECT_EQ(err.find("arn:aws:sagemaker"), std::string::npos) << err;
  EXPECT_NE(lines.find("\"target\":\"SageMaker.CreateProcessingJob\""), std::string::npos) << lines;
  EXPECT_NE(lines.find("\"path\":\"/bucket/staging/inputs/"), std::string::npos) << lines;
  EXPECT_NE(lines.find("\"JUDGE_API_KEY_SECRET_ID\":\"assay/openai\""), std::string::npos) << lines;

  // botocore's model: required/types/min via ParamValidator, plus max/pattern/enum.
  std::string python = "/root/.pyenv/shims/python3";
  if (!fs::exists(python)) python = "python3";
  auto probe = run_command(python + " -c 'import botocore, regex'");
  if (probe.exit_code != 0)
    GTEST_SKIP() << "python3 with botocore and regex is missing: " << probe.output;
  auto v = run_command(python + " " + std::string(ASSAY_SOURCE_DIR) +
                       "/tests/submit/validate_sagemaker_request.py " + out);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("ok 2"), std::string::npos) << v.output;  // Describe, Create
}

}  // namespace
