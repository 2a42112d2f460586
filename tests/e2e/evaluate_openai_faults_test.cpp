// The `openai` generator against a real local server (cpp-httplib on 127.0.0.1) that injects
// faults: 429 with Retry-After, 500s, dropped connections, a reply past the timeout, malformed
// JSON, a request the server refuses for good and one that always fails. Every sample ends
// generated or with an explicit generation_error (never an empty answer); a rerun sends only the
// missing requests (counted from the server's own log), also after the run was killed with
// SIGKILL part-way; the API key, even when a reply echoes it, is in no file and no log line.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::shell_quote;

const std::string kKey = "sk-gen-secret-7171";

enum class Fault { kNone, k429, k500, kDrop, kHang, kTruncated, k400, kEchoKey };

// A fake OpenAI completions server. Each prompt names its sample ("SAMPLE-<n>"); `fault` picks
// what the nth request for that sample gets.
class FakeCompletions {
 public:
  explicit FakeCompletions(std::function<Fault(int sample, int nth)> fault)
      : fault_(std::move(fault)) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(80); };
    server_.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object": "list", "data": [{"id": "fake-model"}]})", "application/json");
    });
    server_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeCompletions() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  // Requests received per sample.
  std::map<int, int> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  void set_fault(std::function<Fault(int, int)> f) {
    std::lock_guard lock(mu_);
    fault_ = std::move(f);
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer " + kKey) {
      res.status = 401;
      res.set_content(R"({"error": {"message": "bad key"}})", "application/json");
      return;
    }
    json body = json::parse(req.body);
    std::smatch m;
    const std::string prompt = body["prompt"];
    int sample = std::regex_search(prompt, m, std::regex("SAMPLE-([0-9]+)")) ? std::stoi(m[1]) : -1;
    Fault fault;
    {
      std::lock_guard lock(mu_);
      const int nth = ++requests_[sample];
      fault = fault_(sample, nth);
    }
    switch (fault) {
      case Fault::k429:
        res.status = 429;
        res.set_header("Retry-After", "1");
        res.set_content(R"({"error": {"message": "slow down"}})", "application/json");
        return;
      case Fault::k500:
        res.status = 500;
        res.set_content(R"({"error": {"message": "boom"}})", "application/json");
        return;
      case Fault::k400:
        res.status = 400;
        res.set_content(R"({"error": {"message": "this prompt is refused"}})", "application/json");
        return;
      case Fault::kDrop:
        res.set_chunked_content_provider("application/json",
                                         [](size_t, httplib::DataSink&) { return false; });
        return;
      case Fault::kHang:
        std::this_thread::sleep_for(std::chrono::milliseconds(2500));
        break;
      default:
        break;
    }
    std::string text = "answer to SAMPLE-" + std::to_string(sample);
    if (fault == Fault::kEchoKey) text += " (you sent " + kKey + ")";
    json reply = {{"model", "fake-model"},
                  {"choices", {{{"index", 0}, {"text", text}, {"finish_reason", "stop"}}}},
                  {"usage", {{"prompt_tokens", 11}, {"completion_tokens", 4}}}};
    std::string out = reply.dump();
    if (fault == Fault::kTruncated) out = out.substr(0, out.size() / 2);
    res.set_content(out, "application/json");
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::map<int, int> requests_;
  std::function<Fault(int, int)> fault_;
};

fs::path write_dataset(const fs::path& dir, int n) {
  fs::path p = dir / "data.jsonl";
  std::ofstream out(p);
  for (int i = 0; i < n; ++i) {
    out << json{{"id", "s" + std::to_string(i)},
                {"instruction", "SAMPLE-" + std::to_string(i) + ": say something"},
                {"output", "answer to SAMPLE-" + std::to_string(i)}}
               .dump()
        << "\n";
  }
  return p;
}

std::string run_line(const FakeCompletions& server, const fs::path& data, const fs::path& out,
                     int timeout_s = 1) {
  return std::string(testing::kCleanEvaluateEnv) + "GEN_API_KEY=" + kKey +
         " GEN_BASE_URL=" + server.url() + " GEN_TIMEOUT_S=" + std::to_string(timeout_s) +
         " GEN_MAX_RETRIES=3 " + shell_quote(ASSAY_EVALUATE_BIN) +
         " run --generator openai --dataset " + shell_quote(data.string()) + " --output " +
         shell_quote(out.string()) + " --metrics exact_match --log-level debug";
}

std::map<std::string, json> generations(const fs::path& run) {
  std::map<std::string, json> out;
  if (!fs::exists(run / "generations.jsonl")) return out;
  for (auto& j : testing::read_json_lines(run / "generations.jsonl", true)) out[j["id"]] = j;
  return out;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(EvaluateOpenAiFaults, EverySampleEndsAnsweredOrWithGenerationErrorAndRerunSendsOnlyMissing) {
  testing::TempDir tmp;
  const fs::path data = write_dataset(tmp.path(), 12);
  FakeCompletions server([](int sample, int nth) {
    switch (sample) {
      case 1: return nth == 1 ? Fault::k429 : Fault::kNone;
      case 2: return nth <= 2 ? Fault::k500 : Fault::kNone;
      case 3: return nth == 1 ? Fault::kDrop : Fault::kNone;
      case 4: return nth == 1 ? Fault::kHang : Fault::kNone;
      case 5: return nth == 1 ? Fault::kTruncated : Fault::kNone;
      case 6: return Fault::k500;  // always: fails for good after the retries
      case 7: return Fault::k400;  // refused: not retried
      case 8: return Fault::kEchoKey;
      default: return Fault::kNone;
    }
  });
  auto first = testing::run_command(run_line(server, data, tmp / "run"));
  EXPECT_EQ(first.exit_code, 4) << first.output;
  EXPECT_NE(first.output.find("2 of 12 samples got no answer"), std::string::npos) << first.output;
  auto gens = generations(tmp / "run");
  ASSERT_EQ(gens.size(), 12u);
  for (int i = 0; i < 12; ++i) {
    const json& g = gens.at("s" + std::to_string(i));
    if (i == 6 || i == 7) {
      EXPECT_TRUE(g["output"].is_null()) << g;
      EXPECT_EQ(g["finish_reason"], "error");
      EXPECT_NE(g["generation_error"].get<std::string>().find(i == 6 ? "HTTP 500" : "HTTP 400"),
                std::string::npos)
          << g;
    } else {
      EXPECT_FALSE(g.contains("generation_error")) << g;
      EXPECT_EQ(g["output"].get<std::string>().rfind("answer to SAMPLE-" + std::to_string(i), 0),
                0u)
          << g;
      EXPECT_EQ(g["completion_tokens"], 4);
    }
  }
  auto counts = server.requests();
  EXPECT_EQ(counts[0], 1);
  EXPECT_EQ(counts[1], 2);  // 429, then answered after Retry-After
  EXPECT_EQ(counts[2], 3);
  EXPECT_EQ(counts[3], 2);
  EXPECT_EQ(counts[4], 2);
  EXPECT_EQ(counts[5], 2);  // malformed reply: sent again
  EXPECT_EQ(counts[6], 4);  // 1 + GEN_MAX_RETRIES
  EXPECT_EQ(counts[7], 1);  // 400 is not retried

  // The endpoint recovers; the rerun asks only for the two missing samples.
  server.set_fault([](int, int) { return Fault::kNone; });
  auto second = testing::run_command(run_line(server, data, tmp / "run"));
  EXPECT_EQ(second.exit_code, 0) << second.output;
  auto after = server.requests();
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(after[i] - counts[i], (i == 6 || i == 7) ? 1 : 0) << "sample " << i;
  }
  gens = generations(tmp / "run");
  EXPECT_EQ(gens.size(), 12u);
  for (const auto& [id, g] : gens) EXPECT_TRUE(g["output"].is_string()) << g;
  json summary = json::parse(read_all(tmp / "run/summary.json"));
  EXPECT_EQ(summary["generation"]["server_model"], "fake-model");

  // The key: in no file, no log line (a reply that echoed it is redacted).
  EXPECT_EQ(first.output.find(kKey), std::string::npos);
  EXPECT_EQ(second.output.find(kKey), std::string::npos);
  for (const auto& e : fs::recursive_directory_iterator(tmp / "run")) {
    if (e.is_regular_file()) {
      EXPECT_EQ(read_all(e.path()).find(kKey), std::string::npos) << e.path();
    }
  }
  EXPECT_NE(gens.at("s8")["output"].get<std::string>().find("***"), std::string::npos);
}

TEST(EvaluateOpenAiFaults, RerunAfterSigkillResendsOnlyWhatNeverCameBack) {
  testing::TempDir tmp;
  const fs::path data = write_dataset(tmp.path(), 10);
  // Samples 0-4 answer at once; 5-9 hang (2.5 s, within the 60 s timeout) until the run is
  // killed.
  FakeCompletions server([](int sample, int) { return sample >= 5 ? Fault::kHang : Fault::kNone; });
  auto run = testing::start_background(
      run_line(server, data, tmp / "run", 60) + " --max-new-tokens 8", tmp / "run.log");
  for (int i = 0; i < 200 && generations(tmp / "run").size() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(testing::stop_background(run, SIGKILL), 128 + SIGKILL);
  const auto saved = generations(tmp / "run");
  ASSERT_EQ(saved.size(), 5u) << read_all(tmp / "run.log");
  const auto before = server.requests();
  server.set_fault([](int, int) { return Fault::kNone; });
  auto rerun = testing::run_command(run_line(server, data, tmp / "run") + " --max-new-tokens 8");
  EXPECT_EQ(rerun.exit_code, 0) << rerun.output;
  const auto after = server.requests();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(after.count(i) ? after.at(i) - (before.count(i) ? before.at(i) : 0) : 0,
              i < 5 ? 0 : 1)
        << "sample " << i;
  }
  EXPECT_EQ(generations(tmp / "run").size(), 10u);
}

}  // namespace
}  // namespace assay
