// bench_judge: 1,000 judgments against a local OpenAI-style server that answers in 200 ms, with
// 64 in flight, compared with `curl -Z --parallel-max 64` sending the same 1,000 requests to the
// same server (the practical floor). Prints one table: wall time, calls/s, client CPU per call.
// Usage: bench_judge [n=1000] [concurrency=64] [delay_ms=200]
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/http_client.h"
#include "judges/judge_runner.h"
#include "judges/openai_judge.h"
#include "testing/fake_openai_server.h"

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double cpu_s(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void row(const char* name, int n, double wall, double cpu) {
  std::printf("| %-34s | %6d | %7.3f | %8.1f | %11s |\n", name, n, wall, n / wall,
              cpu < 0 ? "-" : (std::to_string(cpu * 1000.0 / n).substr(0, 6)).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  int conc = argc > 2 ? std::atoi(argv[2]) : 64;
  int delay_ms = argc > 3 ? std::atoi(argv[3]) : 200;
  assay::testing::FakeServerOptions so;
  so.delay_ms = delay_ms;
  // cpp-httplib holds a thread per keep-alive connection: room for `conc` connections from each
  // client, plus spare.
  so.threads = 2 * conc + 16;
  assay::testing::FakeOpenAiServer server(so);

  std::vector<assay::judges::JudgeItem> items;
  for (int i = 0; i < n; ++i) {
    items.push_back(
        {"s" + std::to_string(i),
         "SAMPLE-" + std::to_string(i) + ": Explain how LoRA reduces fine-tuning memory.",
         "LoRA freezes the base weights and trains two low-rank matrices per layer.", "", ""});
  }
  assay::judges::Rubric rubric = assay::judges::load_rubric("handbook");

  // 1. Assay: JudgeRunner -> OpenAiJudge -> curl-multi client on this thread.
  assay::HttpClientOptions ho;
  ho.max_concurrency = conc;
  double assay_wall = 0, assay_cpu = 0;
  int ok = 0;
  std::vector<std::string> bodies;
  {
    // Warm-up (not measured): the server's thread pool and accept path see traffic once.
    auto warm = assay::make_curl_http_client(ho);
    assay::judges::OpenAiJudge wp({server.base_url(), "sk-test-key", "gpt-4o-mini", {}}, *warm);
    assay::judges::JudgeRunner(rubric, wp, nullptr)
        .judge(std::vector<assay::judges::JudgeItem>(items.begin(),
                                                     items.begin() + std::min(n, conc)));
  }
  {
    auto http = assay::make_curl_http_client(ho);
    assay::judges::OpenAiJudge provider({server.base_url(), "sk-test-key", "gpt-4o-mini", {}},
                                        *http);
    assay::judges::JudgeRunner runner(rubric, provider, nullptr);
    double cpu0 = cpu_s(RUSAGE_THREAD);
    auto t0 = Clock::now();
    auto judgments = runner.judge(items);
    assay_wall = std::chrono::duration<double>(Clock::now() - t0).count();
    assay_cpu = cpu_s(RUSAGE_THREAD) - cpu0;
    for (const auto& j : judgments) ok += j.ok ? 1 : 0;
    for (int i = 0; i < n; ++i) {
      bodies.push_back(provider.request_body({runner.render_messages(items[i], 0), &rubric}));
    }
  }  // closes the client's connections before curl runs

  // 2. curl -Z --parallel-max conc: the same request bodies, one config block per request.
  fs::path dir = fs::temp_directory_path() / ("assay_bench_judge_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream cfg(dir / "curl.cfg");
    for (int i = 0; i < n; ++i) {
      fs::path body = dir / ("body" + std::to_string(i) + ".json");
      std::ofstream(body) << bodies[i];
      cfg << "url = \"" << server.base_url() << "/chat/completions\"\n"
          << "header = \"Authorization: Bearer sk-test-key\"\n"
          << "header = \"Content-Type: application/json\"\n"
          << "data-binary = \"@" << body.string() << "\"\n"
          << "output = \"/dev/null\"\n"
          << (i + 1 < n ? "next\n" : "");
    }
  }
  int before = server.requests();
  std::string cmd = "curl -s --no-progress-meter -Z --parallel-max " + std::to_string(conc) +
                    " -K " + (dir / "curl.cfg").string() + " 2>/dev/null";
  double ccpu0 = cpu_s(RUSAGE_CHILDREN);
  auto t1 = Clock::now();
  int rc = std::system(cmd.c_str());
  double curl_wall = std::chrono::duration<double>(Clock::now() - t1).count();
  double curl_cpu = cpu_s(RUSAGE_CHILDREN) - ccpu0;
  int curl_served = server.requests() - before;
  fs::remove_all(dir);

  double ideal = std::ceil(static_cast<double>(n) / conc) * delay_ms / 1000.0;
  double handbook = std::ceil(static_cast<double>(n) / 10) * delay_ms / 1000.0;
  std::printf(
      "judgments=%d concurrency=%d server_delay_ms=%d judged_ok=%d curl_rc=%d curl_requests=%d\n\n",
      n, conc, delay_ms, ok, rc, curl_served);
  std::printf("| %-34s | %6s | %7s | %8s | %11s |\n", "method", "calls", "wall s", "calls/s",
              "CPU ms/call");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(8, '-').c_str(),
              std::string(9, '-').c_str(), std::string(10, '-').c_str(),
              std::string(13, '-').c_str());
  row("assay judge (JudgeRunner, curl-multi)", n, assay_wall, assay_cpu);
  row("curl -Z --parallel-max (floor)", n, curl_wall, curl_cpu);
  row("ideal ceil(n/conc) x delay", n, ideal, -1);
  row("Handbook scheme (10 threads), computed", n, handbook, -1);
  std::printf(
      "\nassay / curl wall = %.3f (target <= 1.15); assay wall %.3f s (target <= 4 s); "
      "client CPU %.3f ms/call (target < 1 ms)\n",
      assay_wall / curl_wall, assay_wall, assay_cpu * 1000.0 / n);
  return ok == n && rc == 0 ? 0 : 1;
}
