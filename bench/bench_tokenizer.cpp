// Tokenizer speed: load time of each tokenizer and single-thread encode / decode throughput on
// the golden corpus (shared/testdata/tokenizers/goldens, 300 mixed-script strings) and on English
// prose (the Markdown files of the repo and of shared/). Prints a table. Usage: bench_tokenizer
// [TESTDATA_DIR]
#include <time.h>
#include <algorithm>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inference/tokenizer.h"

namespace fs = std::filesystem;
using assay::inference::Tokenizer;

namespace {

// CPU time of this thread: throughput per core, robust to other processes on a shared machine.
double cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<std::string> golden_texts(const fs::path& file) {
  std::vector<std::string> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  }
  return out;
}

// English prose: the Markdown files under `roots`, split into paragraphs.
std::vector<std::string> prose_texts(const std::vector<fs::path>& roots) {
  std::vector<std::string> out;
  for (const auto& root : roots) {
    if (!fs::exists(root)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      std::string path = entry.path().string();
      if (entry.path().extension() != ".md" || path.find("/build") != std::string::npos) continue;
      std::ifstream in(entry.path());
      std::string para, line;
      while (std::getline(in, line)) {
        if (line.empty()) {
          if (!para.empty()) out.push_back(para);
          para.clear();
        } else {
          para += (para.empty() ? "" : "\n") + line;
        }
      }
      if (!para.empty()) out.push_back(para);
    }
  }
  return out;
}

struct Throughput {
  double encode_mb_s = 0;
  double tokens_per_s = 0;
  double decode_mb_s = 0;
};

Throughput measure(const Tokenizer& tok, const std::vector<std::string>& texts) {
  size_t corpus_bytes = 0;
  for (const auto& t : texts) corpus_bytes += t.size();
  // Repeat the corpus until at least ~4 MB went through (and at least 0.5 s).
  std::vector<std::vector<int32_t>> ids(texts.size());
  size_t bytes = 0, tokens = 0;
  double t0 = cpu_s();
  do {
    for (size_t i = 0; i < texts.size(); ++i) {
      ids[i] = tok.encode(texts[i], false);
      tokens += ids[i].size();
    }
    bytes += corpus_bytes;
  } while (bytes < (4u << 20) || cpu_s() - t0 < 0.5);
  double encode_s = cpu_s() - t0;
  size_t out_bytes = 0;
  t0 = cpu_s();
  do {
    for (const auto& v : ids) out_bytes += tok.decode(v, false).size();
  } while (out_bytes < (4u << 20) || cpu_s() - t0 < 0.5);
  double decode_s = cpu_s() - t0;
  return {bytes / encode_s / 1e6, tokens / encode_s, out_bytes / decode_s / 1e6};
}

}  // namespace

int main(int argc, char** argv) {
  fs::path repo = ASSAY_SOURCE_DIR;
  fs::path testdata = argc > 1 ? fs::path(argv[1]) : repo / ".." / "shared" / "testdata";
  fs::path tokdir = testdata / "tokenizers";
  struct Case {
    const char* name;
    fs::path path;
    const char* golden;
  };
  std::vector<Case> cases = {
      {"llama3", tokdir / "llama3", "llama3.jsonl"},
      {"qwen3", tokdir / "qwen3", "qwen3.jsonl"},
      {"mistral", tokdir / "mistral", "mistral.jsonl"},
      {"llama2 (spm)", tokdir / "llama2" / "tokenizer.model", "llama2_spm.jsonl"},
      {"stories260K (spm)", repo / "models" / "stories260K", "stories260K_spm.jsonl"},
  };
  std::vector<std::string> prose = prose_texts({repo, testdata.parent_path()});
  size_t prose_bytes = 0;
  for (const auto& p : prose) prose_bytes += p.size();
  std::printf("corpora: goldens (300 mixed-script strings), prose (%zu paragraphs, %zu bytes)\n",
              prose.size(), prose_bytes);
  std::printf("load: best of 3, wall and CPU seconds; throughput: per core (thread CPU time)\n");
  std::printf("%-18s %7s %7s %9s %8s %9s %10s %12s\n", "tokenizer", "load s", "cpu s", "enc MB/s",
              "Mtok/s", "dec MB/s", "prose MB/s", "prose Mtok/s");
  const char* only = argc > 2 ? argv[2] : nullptr;  // optional: run only this tokenizer
  for (const auto& c : cases) {
    if (only != nullptr && std::string(c.name).find(only) != 0) continue;
    if (!fs::exists(c.path)) {
      std::printf("%-18s (missing: %s)\n", c.name, c.path.string().c_str());
      continue;
    }
    double best_load = 1e9, best_load_cpu = 1e9;
    std::unique_ptr<Tokenizer> tok;
    for (int rep = 0; rep < 3; ++rep) {
      double t0 = now_s(), c0 = cpu_s();
      tok = Tokenizer::load(c.path);
      best_load = std::min(best_load, now_s() - t0);
      best_load_cpu = std::min(best_load_cpu, cpu_s() - c0);
    }
    Throughput golden = measure(*tok, golden_texts(tokdir / "goldens" / c.golden));
    Throughput on_prose = measure(*tok, prose);
    std::printf("%-18s %7.3f %7.3f %9.2f %8.3f %9.2f %10.2f %12.3f\n", c.name, best_load,
                best_load_cpu, golden.encode_mb_s, golden.tokens_per_s / 1e6, golden.decode_mb_s,
                on_prose.encode_mb_s, on_prose.tokens_per_s / 1e6);
  }
  return 0;
}
