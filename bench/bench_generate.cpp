// Generation speed of BatchGenerator: prefill and decode tokens/s at several batch sizes, fp32 and
// bf16, on a random-weight Llama written with the project's safetensors writer (default ≈110M:
// hidden 768, 12 layers, 12 heads, FFN 2048, vocab 32000) or any Llama-family folder (--model),
// each beside its roofline from this machine's measured GEMM rate and memory bandwidth.
// Usage: bench_generate [--model DIR | --write-model DIR] [--batch N] [--prompt-tokens P]
//                       [--new-tokens G] [--dtype fp32|bf16] [--threads N] [--repeat N] [--json]
//                       [--level avx2|avx512]
// --level caps the instruction-set level (testing/cpu_level.h), so that the AVX2 kernels are timed
// on an AVX-512 CPU.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bench/roofline.h"
#include "core/error.h"
#include "core/fs.h"
#include "inference/batch_generator.h"
#include "inference/engine.h"
#include "inference/safetensors.h"
#include "inference/tokenizer.h"
#include "testing/cpu_level.h"

namespace fs = std::filesystem;
using namespace assay::inference;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Writes the default random Llama (bf16 weights, uniform in ±0.03; norms 1) unless `dir` has it.
void write_random_llama(const fs::path& dir, int64_t vocab = 32000) {
  if (fs::exists(dir / "model.safetensors")) return;
  const int64_t hidden = 768, layers = 12, heads = 12, ffn = 2048;
  const nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                                 {"model_type", "llama"},
                                 {"hidden_size", hidden},
                                 {"intermediate_size", ffn},
                                 {"num_hidden_layers", layers},
                                 {"num_attention_heads", heads},
                                 {"num_key_value_heads", heads},
                                 {"vocab_size", vocab},
                                 {"max_position_embeddings", 2048},
                                 {"rms_norm_eps", 1e-5},
                                 {"rope_theta", 10000.0},
                                 {"hidden_act", "silu"},
                                 {"tie_word_embeddings", false},
                                 {"bos_token_id", 1},
                                 {"eos_token_id", 2}};
  fs::create_directories(dir);
  std::vector<std::vector<uint16_t>> data;
  std::vector<TensorToWrite> tensors;
  uint64_t state = 42;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool norm) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<uint16_t> values(n);
    for (uint16_t& v : values) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      const float x = norm ? 1.0f : 0.03f * (static_cast<float>(state >> 40) / 8388608.0f - 1.0f);
      v = float_to_bf16(x);
    }
    data.push_back(std::move(values));
    tensors.push_back({name, DType::kBF16, shape, std::as_bytes(std::span(data.back()))});
  };
  data.reserve(4 + layers * 9);
  add("model.embed_tokens.weight", {vocab, hidden}, false);
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {hidden}, true);
    add(p + "post_attention_layernorm.weight", {hidden}, true);
    add(p + "self_attn.q_proj.weight", {hidden, hidden}, false);
    add(p + "self_attn.k_proj.weight", {hidden, hidden}, false);
    add(p + "self_attn.v_proj.weight", {hidden, hidden}, false);
    add(p + "self_attn.o_proj.weight", {hidden, hidden}, false);
    add(p + "mlp.gate_proj.weight", {ffn, hidden}, false);
    add(p + "mlp.up_proj.weight", {ffn, hidden}, false);
    add(p + "mlp.down_proj.weight", {hidden, ffn}, false);
  }
  add("model.norm.weight", {hidden}, true);
  add("lm_head.weight", {vocab, hidden}, false);
  assay::atomic_write(dir / "config.json", config.dump(2));
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
}

double cpu_s() {  // CPU time of the whole process (all threads)
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Figures {
  double prefill_tok_s = 0;
  double decode_tok_s = 0;
  // Tokens per CPU-second of this process: on a shared machine, where other processes take the
  // cores, this times the number of cores estimates the figure on a quiet one.
  double prefill_tok_cpu_s = 0;
  double decode_tok_cpu_s = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Times B prompts of P random ids generating G tokens each; EOS is disabled so every request
// runs to G. Prefill: a run with 1 new token (prefill + one sample), the median of `repeat`.
// Decode, timed directly: the generator gets one slot more than there are requests and a
// serving hook (`more`) that adds nothing, so it asks the hook before every step; the gaps
// between those calls after the first decode step are single decode steps of B rows (sampling
// included). The figure is B over the median step, over all steps of `repeat` runs, so one
// disturbed step or run moves it little.
Figures measure(Engine& engine, const Tokenizer& tokenizer, int batch, int prompt, int gen,
                int repeat) {
  const int64_t vocab = engine.config().vocab_size;
  std::vector<GenerationRequest> requests;
  uint64_t state = 7;
  for (int b = 0; b < batch; ++b) {
    GenerationRequest r{"b" + std::to_string(b), {}};
    for (int t = 0; t < prompt; ++t) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      r.prompt_ids.push_back(3 + static_cast<int32_t>((state >> 33) % (vocab - 3)));
    }
    requests.push_back(std::move(r));
  }
  BatchOptions options;
  options.max_batch_size = batch + 1;  // the spare slot makes the generator call `more`
  options.max_batch_tokens = std::max(8192, batch * prompt);
  options.max_context = prompt + gen;
  BatchGenerator generator(engine, tokenizer, options);
  SamplingParams params;
  params.eos_ids = {-1};
  std::vector<double> wall_marks, cpu_marks;  // one per call of `more`
  const MoreRequests mark = [&](std::vector<GenerationRequest>&, int64_t) {
    wall_marks.push_back(now_s());
    cpu_marks.push_back(cpu_s());
  };
  std::vector<double> step_wall, step_cpu, prefill_wall, prefill_cpu;
  auto run = [&](int new_tokens) {
    params.max_new_tokens = new_tokens;
    wall_marks.clear();
    cpu_marks.clear();
    const double t0 = now_s(), c0 = cpu_s();
    generator.run(
        requests, params, [](GenerationResult&&) {}, nullptr, mark);
    return std::pair(now_s() - t0, cpu_s() - c0);
  };
  // Warm up with the full length: the generator keeps its KV cache from here on (as `evaluate`
  // makes it once per run), so neither figure counts the kernel mapping it in.
  run(gen);
  for (int i = 0; i < repeat; ++i) {
    const auto [w, c] = run(1);
    prefill_wall.push_back(w);
    prefill_cpu.push_back(c);
    run(gen);
    // Marks: before the prefill, then before each later step; [1] follows the prefill and the
    // first decode step, so the steps timed alone are the gaps from [1] on.
    for (size_t k = 2; k < wall_marks.size(); ++k) {
      step_wall.push_back(wall_marks[k] - wall_marks[k - 1]);
      step_cpu.push_back(cpu_marks[k] - cpu_marks[k - 1]);
    }
  }
  Figures f;
  f.prefill_tok_s = static_cast<double>(batch) * prompt / median(prefill_wall);
  f.prefill_tok_cpu_s = static_cast<double>(batch) * prompt / median(prefill_cpu);
  f.decode_tok_s = batch / std::max(1e-9, median(step_wall));
  f.decode_tok_cpu_s = batch / std::max(1e-9, median(step_cpu));
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  // libgomp's wait policy is left as the caller set it (default: spin briefly, then sleep), as
  // `evaluate` runs. OMP_WAIT_POLICY=PASSIVE helps only on an oversubscribed machine (measured
  // 2026-11-22 under load 5: 190-260 vs 40-48 decode tok/s); on a quiet one it costs a futex
  // wake per parallel region (batch-32 bf16 decode ~700 vs ~880 tok/s, 2026-12-02).
  fs::path model;
  std::vector<int> batches = {1, 8, 16, 32, 64};
  std::vector<std::string> dtypes = {"float32", "bfloat16"};
  int prompt = 128, gen = 128, threads = 0, repeat = 1;
  bool json = false;
  assay::cpu::Level level = assay::cpu::Level::avx512;  // a cap: never above what the CPU has
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--model") {
      model = value();
    } else if (arg == "--write-model") {
      // The same random Llama with stories260K's 512-token vocabulary and tokenizer, as a folder
      // `evaluate run` and `evaluate serve` load (bench/bench_served.sh).
      const fs::path dir = value();
      write_random_llama(dir, 512);
      fs::copy_file(fs::path(ASSAY_SOURCE_DIR) / "models/stories260K/tokenizer.model",
                    dir / "tokenizer.model", fs::copy_options::overwrite_existing);
      return 0;
    } else if (arg == "--batch") {
      batches = {std::stoi(value())};
    } else if (arg == "--prompt-tokens") {
      prompt = std::stoi(value());
    } else if (arg == "--new-tokens") {
      gen = std::stoi(value());
    } else if (arg == "--dtype") {
      const std::string d = value();
      if (d != "fp32" && d != "bf16" && d != "float32" && d != "bfloat16") {
        std::fprintf(stderr, "--dtype must be fp32 or bf16\n");
        return 2;
      }
      dtypes = {d == "fp32" || d == "float32" ? "float32" : "bfloat16"};
    } else if (arg == "--threads") {
      threads = std::stoi(value());
    } else if (arg == "--repeat") {
      repeat = std::max(1, std::stoi(value()));
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "--level") {
      const std::string l = value();
      if (l != "avx2" && l != "avx512") {
        std::fprintf(stderr, "--level must be avx2 or avx512\n");
        return 2;
      }
      level = l == "avx2" ? assay::cpu::Level::avx2 : assay::cpu::Level::avx512;
    } else {
      std::fprintf(stderr,
                   "usage: bench_generate [--model DIR | --write-model DIR] [--batch N] "
                   "[--prompt-tokens P] "
                   "[--new-tokens G] [--dtype fp32|bf16] [--threads N] [--repeat N] [--json] "
                   "[--level avx2|avx512]\n");
      return 2;
    }
  }
  const assay::testing::ScopedCpuLevel level_cap(level);
  if (prompt < 1 || gen < 3) {  // decode steps are timed from the second one on
    std::fprintf(stderr, "--prompt-tokens must be >= 1 and --new-tokens >= 3\n");
    return 2;
  }
  try {
    if (json) {  // one configuration: the first batch / dtype asked for (default 32, bf16)
      if (batches.size() > 1) batches = {32};
      if (dtypes.size() > 1) dtypes = {"bfloat16"};
    }
    if (model.empty()) {
      model = fs::temp_directory_path() / "assay-bench-generate-llama110m";
      write_random_llama(model);
    }
    const fs::path stories = fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K";
    std::unique_ptr<Tokenizer> tokenizer;
    try {
      tokenizer = Tokenizer::load(model);
    } catch (const assay::Error&) {
      tokenizer = Tokenizer::load(stories);  // the random model has none; ids are never shown
    }
    if (json) {
      EngineOptions eo;
      eo.dtype = dtypes[0];
      eo.threads = threads;
      auto engine = Engine::load(model, eo);
      const Figures f = measure(*engine, *tokenizer, batches[0], prompt, gen, repeat);
      nlohmann::json out = {{"model", model.string()},
                            {"dtype", dtypes[0]},
                            {"batch", batches[0]},
                            {"prompt_tokens", prompt},
                            {"new_tokens", gen},
                            {"prefill_tok_s", f.prefill_tok_s},
                            {"decode_tok_s", f.decode_tok_s},
                            {"prefill_tok_per_cpu_s", f.prefill_tok_cpu_s},
                            {"decode_tok_per_cpu_s", f.decode_tok_cpu_s}};
      std::printf("%s\n", out.dump().c_str());
      return 0;
    }
    // Rooflines.
    const double bw = assay::bench::measure_memory_gbps(256, 1.0);
    const double gemm_f32 = assay::bench::measure_gemm_gflops("float32", 2048, 1.0);
    const double gemm_bf16 = assay::bench::measure_gemm_gflops("bfloat16", 2048, 1.0);
    std::printf(
        "machine: memory %.1f GB/s (copy), GEMM fp32 %.0f GFLOP/s, bf16 %.0f GFLOP/s; "
        "OMP_WAIT_POLICY=%s, threads %s\n",
        bw, gemm_f32, gemm_bf16,
        std::getenv("OMP_WAIT_POLICY") != nullptr ? std::getenv("OMP_WAIT_POLICY") : "(default)",
        threads > 0 ? std::to_string(threads).c_str() : "all cores");
    for (const std::string& dtype : dtypes) {
      EngineOptions eo;
      eo.dtype = dtype;
      eo.threads = threads;
      auto engine = Engine::load(model, eo);
      const ModelConfig& c = engine->config();
      // Parameters that take part in matmuls per token (the embedding is a lookup).
      const double layer_params =
          static_cast<double>(c.hidden_size) * (c.num_heads + 2 * c.num_kv_heads) * c.head_dim +
          static_cast<double>(c.num_heads) * c.head_dim * c.hidden_size +
          3.0 * c.hidden_size * c.intermediate_size;
      const double params = c.num_layers * layer_params + double(c.vocab_size) * c.hidden_size;
      const double elem = dtype == "float32" ? 4 : 2;
      // Where ATen's bf16 GEMM is slower than fp32 (no AVX512-BF16/AMX: ~4 GFLOP/s on a Zen 3),
      // the bf16 kernels widen to float and are bounded by the fp32 rate instead.
      const double gemm = (dtype == "float32" ? gemm_f32 : std::max(gemm_bf16, gemm_f32)) * 1e9;
      if (dtype == dtypes.front()) {
        std::printf("model: %s, %.1fM matmul parameters; %d prompt + %d new tokens\n",
                    model.string().c_str(), params / 1e6, prompt, gen);
        std::printf(
            "| dtype | batch | prefill tok/s | %% of GEMM roof | decode tok/s | roof tok/s "
            "| %% of roof | roof bound | prefill tok/CPU-s | decode tok/CPU-s |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n");
      }
      for (int batch : batches) {
        const Figures f = measure(*engine, *tokenizer, batch, prompt, gen, repeat);
        const double prefill_roof = gemm / (2 * params);
        // A decode step reads the weights once and each sequence's K/V (mean context P + G/2).
        const double kv_bytes = double(batch) * (prompt + gen / 2.0) * c.num_layers * 2 *
                                c.num_kv_heads * c.head_dim * elem;
        const double t_bytes = (params * elem + kv_bytes) / (bw * 1e9);
        const double t_flops = 2 * params * batch / gemm;
        const double decode_roof = batch / std::max(t_bytes, t_flops);
        std::printf("| %s | %d | %.0f | %.0f%% | %.1f | %.0f | %.0f%% | %s | %.0f | %.1f |\n",
                    dtype == "float32" ? "fp32" : "bf16", batch, f.prefill_tok_s,
                    100 * f.prefill_tok_s / prefill_roof, f.decode_tok_s, decode_roof,
                    100 * f.decode_tok_s / decode_roof, t_bytes > t_flops ? "memory" : "GEMM",
                    f.prefill_tok_cpu_s, f.decode_tok_cpu_s);
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_generate: %s\n", e.what());
    return 1;
  }
  return 0;
}
