// The forward pass against published outputs (stories260K) and against an independent naive
// implementation (test_util.h) on tiny random Llama / Mistral / Qwen2 / Qwen3 checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "inference/engine.h"
#include "inference/kernels/kernels.h"
#include "inference/tokenizer.h"
#include "testing/cpu_level.h"
#include "tests/inference/test_util.h"

namespace assay::inference {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kStories = fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K";

// Published in llama2.c doc/stories260K.md and in models/stories260K/README.md.
const std::vector<int32_t> kStoriesGreedy = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                                             315, 421, 395, 317, 426, 338, 401, 396, 267, 337};

TEST(ModelTest, Stories260KGreedyFromBosMatchesPublishedIds) {
  auto engine = Engine::load(kStories, {});
  GenerateOptions options;
  options.max_new_tokens = 20;
  EXPECT_EQ(engine->generate({}, options), kStoriesGreedy);
  const std::vector<int32_t> bos = {1};
  EXPECT_EQ(engine->generate(bos, options), kStoriesGreedy);
}

TEST(ModelTest, Stories260KGreedyTextMatchesPublishedText) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(engine->files().tokenizer_dir);
  GenerateOptions options;
  options.max_new_tokens = 70;
  const std::string text =
      tokenizer->decode(engine->generate({}, options), /*skip_special_tokens=*/true);
  const std::string published =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
      "park. One day, she "
      "saw a big, red ball. She wanted to play with it, but it was too high.";
  EXPECT_EQ(text.substr(0, published.size()), published) << text;
}

TEST(ModelTest, Stories260KBfloat16StaysCloseToFloat32) {
  auto f32 = Engine::load(kStories, {});
  EngineOptions options;
  options.dtype = "bfloat16";
  auto bf16 = Engine::load(kStories, options);
  std::vector<int32_t> ids = {1, 403, 407, 261, 378};
  auto a = f32->logits(ids), b = bf16->logits(ids);
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(double(a[i]) - b[i]));
    max_abs = std::max(max_abs, std::abs(double(a[i])));
  }
  EXPECT_LT(max_diff, 0.05 * max_abs);  // bf16 has 8 bits of mantissa
  EXPECT_GT(max_diff, 0.0);             // and really computed in bf16
}

// The kernel forward (kernels/kernels.h: AVX-512, or AVX2 where there is none) against the plain
// ATen forward, which shares no arithmetic code with it, over a sequence longer than one 256-row
// chunk; at each kernel level the CPU has (the AVX2 bodies run on an AVX-512 CPU too).

// The instruction-set levels the kernels are written for that this CPU has, highest first.
std::vector<cpu::Level> kernel_levels() {
  std::vector<cpu::Level> out;
  if (cpu::features().avx512) out.push_back(cpu::Level::avx512);
  if (cpu::features().avx2) out.push_back(cpu::Level::avx2);
  return out;
}
// {largest |a - b|, largest |b|} over two logit vectors of one size.
std::pair<double, double> largest_difference(const std::vector<float>& a,
                                             const std::vector<float>& b) {
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(double(a[i]) - b[i]));
    max_abs = std::max(max_abs, std::abs(double(b[i])));
  }
  return {max_diff, max_abs};
}

// Logits of every position; from `decode_from` on, one decode step per position.
std::vector<float> logits_of(const EngineOptions& options, bool aten,
                             const std::vector<int32_t>& ids, const fs::path& model = kStories,
                             size_t decode_from = SIZE_MAX) {
  if (aten) setenv("ASSAY_NO_KERNELS", "1", 1);
  auto engine = Engine::load(model, options);
  if (aten) unsetenv("ASSAY_NO_KERNELS");
  return engine->logits(ids, decode_from);
}

TEST(ModelTest, KernelForwardMatchesAtenForwardAcrossRowChunks) {
  if (!kernels::has_f32_kernels())
    GTEST_SKIP() << "neither AVX-512 nor AVX2+FMA on this CPU: both engines would run the ATen "
                    "forward";
  std::vector<int32_t> ids = {1};
  uint32_t state = 12345;
  while (ids.size() < 300) {
    state = state * 1664525u + 1013904223u;
    ids.push_back(3 + static_cast<int32_t>((state >> 8) % 509));
  }
  for (const cpu::Level level : kernel_levels()) {
    ::assay::testing::ScopedCpuLevel cap(level);
    for (const std::string dtype : {"float32", "bfloat16"}) {
      EngineOptions options;
      options.dtype = dtype;
      const std::vector<float> a = logits_of(options, false, ids),
                               b = logits_of(options, true, ids);
      ASSERT_EQ(a.size(), b.size());
      const auto [max_diff, max_abs] = largest_difference(a, b);
      // fp32: rounding order only; bf16: both round activations to 8 mantissa bits, differently.
      EXPECT_LT(max_diff, (dtype == "float32" ? 1e-4 : 0.05) * max_abs)
          << dtype << " " << cpu::level_name(level);
    }
  }
}

json tiny_config(const std::string& arch) {
  json c = {{"architectures", {arch}},
            {"hidden_size", 32},
            {"intermediate_size", 48},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"vocab_size", 40},
            {"max_position_embeddings", 64},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 10000.0},
            {"tie_word_embeddings", false},
            {"hidden_act", "silu"},
            {"bos_token_id", 1},
            {"eos_token_id", 2}};
  return c;
}

// The bf16 attention kernel has its own path for head dims of 32, 64, 96 and 128 (stories260K's
// head dim is 8): kernel forward against ATen forward on tiny random checkpoints with those head
// dims, grouped-query, over more than one 256-row chunk.
TEST(ModelTest, KernelForwardMatchesAtenForwardForWideHeads) {
  if (!kernels::has_bf16_kernels())
    GTEST_SKIP() << "no bf16 kernels on this CPU: both engines would run the ATen forward";
  std::vector<int32_t> ids = {1};
  uint32_t state = 777;
  while (ids.size() < 280) {
    state = state * 1664525u + 1013904223u;
    ids.push_back(3 + static_cast<int32_t>((state >> 8) % 37));
  }
  for (const cpu::Level level : kernel_levels()) {
    ::assay::testing::ScopedCpuLevel cap(level);
    for (const int64_t head_dim : {32, 64, 96, 128}) {
      SCOPED_TRACE(std::string(cpu::level_name(level)) + " head_dim " + std::to_string(head_dim));
      json config = tiny_config("LlamaForCausalLM");
      config["head_dim"] = head_dim;
      config["hidden_size"] = 64;
      config["intermediate_size"] = 96;
      config["max_position_embeddings"] = 512;
      const fs::path dir = testing::fresh_dir("wide_heads_" + std::to_string(head_dim));
      testing::write_model(dir, config, testing::random_weights(config, 11 + head_dim));
      EngineOptions options;
      options.dtype = "bfloat16";
      // All at once (prefill), and the last 24 positions as decode steps (the kernel path then
      // does RoPE and the cache store inside the attention).
      for (const size_t decode_from : {SIZE_MAX, ids.size() - 24}) {
        SCOPED_TRACE("decode_from " + std::to_string(decode_from));
        const std::vector<float> a = logits_of(options, false, ids, dir, decode_from);
        const std::vector<float> b = logits_of(options, true, ids, dir, decode_from);
        const std::vector<float> exact = logits_of(EngineOptions{}, true, ids, dir, decode_from);
        ASSERT_EQ(a.size(), b.size());
        ASSERT_EQ(a.size(), exact.size());
        // Against the fp32 ATen forward: within bf16's rounding (measured ~2.5% on a Zen 3 with
        // the AVX2 kernels, where ATen's own bf16 forward is off by ~5%).
        const auto [err, max_abs] = largest_difference(a, exact);
        EXPECT_GT(max_abs, 0.0);
        EXPECT_GT(err, 0.0);  // really computed in bf16
        EXPECT_LT(err, 0.05 * max_abs);
        // Against ATen's bf16 forward: the two round activations in different places.
        EXPECT_LT(largest_difference(a, b).first, 0.08 * max_abs);
      }
    }
  }
}

void expect_matches_naive(const std::string& name, const json& config, double linear_factor = 1.0) {
  SCOPED_TRACE(name);
  const fs::path dir = testing::fresh_dir(name);
  const auto weights = testing::random_weights(config, 7);
  testing::write_model(dir, config, weights);
  auto engine = Engine::load(dir, {});
  const std::vector<int32_t> ids = {1, 5, 9, 33, 7, 21, 3, 39};
  const auto got = engine->logits(ids);
  const auto want = testing::naive_logits(config, weights, ids, linear_factor);
  const int64_t vocab = config["vocab_size"];
  ASSERT_EQ(got.size(), ids.size() * vocab);
  double worst = 0;
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t v = 0; v < vocab; ++v)
      worst = std::max(worst, std::abs(got[t * vocab + v] - want[t][v]));
  EXPECT_LT(worst, 1e-3) << "largest logit difference";

  // Greedy generation through the KV cache must pick what the naive full recomputation picks.
  GenerateOptions options;
  options.max_new_tokens = 6;
  options.stop_at_eos = false;
  std::vector<int32_t> seq = {1, 5, 9};
  const auto generated = engine->generate(seq, options);
  for (int step = 0; step < 6; ++step) {
    const auto logits = testing::naive_logits(config, weights, seq, linear_factor).back();
    const int32_t next = std::max_element(logits.begin(), logits.end()) - logits.begin();
    ASSERT_EQ(generated.at(step), next) << "step " << step;
    seq.push_back(next);
  }
  fs::remove_all(dir);
}

TEST(ModelTest, LlamaWithGqaBiasAndUntiedHeadMatchesNaiveForward) {
  json c = tiny_config("LlamaForCausalLM");
  c["attention_bias"] = true;
  expect_matches_naive("llama", c);
}

TEST(ModelTest, LlamaTiedEmbeddingsAndLinearRopeMatchNaiveForward) {
  json c = tiny_config("LlamaForCausalLM");
  c["tie_word_embeddings"] = true;
  c["num_key_value_heads"] = 1;
  c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  expect_matches_naive("llama-linear", c, 4.0);
}

TEST(ModelTest, MistralSlidingWindowMatchesNaiveForward) {
  json c = tiny_config("MistralForCausalLM");
  c["sliding_window"] = 3;  // the 8-token sequence crosses it
  expect_matches_naive("mistral", c);
}

TEST(ModelTest, Qwen2QkvBiasMatchesNaiveForward) {
  json c = tiny_config("Qwen2ForCausalLM");
  expect_matches_naive("qwen2", c);
}

TEST(ModelTest, Qwen3QkNormAndExplicitHeadDimMatchNaiveForward) {
  json c = tiny_config("Qwen3ForCausalLM");
  c["head_dim"] = 16;  // != hidden / heads = 8
  c["attention_bias"] = false;
  expect_matches_naive("qwen3", c);
}

TEST(ModelTest, BiasesAndQkNormAreReallyUsed) {
  // The same weights with the Qwen2 biases zeroed must give different logits: the biases matter.
  json c = tiny_config("Qwen2ForCausalLM");
  auto weights = testing::random_weights(c, 11);
  const fs::path a = testing::fresh_dir("bias-a"), b = testing::fresh_dir("bias-b");
  testing::write_model(a, c, weights);
  for (auto& [name, w] : weights)
    if (name.find(".bias") != std::string::npos) std::fill(w.values.begin(), w.values.end(), 0.0f);
  testing::write_model(b, c, weights);
  const std::vector<int32_t> ids = {1, 2, 3};
  EXPECT_NE(Engine::load(a, {})->logits(ids), Engine::load(b, {})->logits(ids));
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(ModelTest, BfloatCheckpointLoads) {
  json c = tiny_config("Qwen3ForCausalLM");
  auto weights = testing::random_weights(c, 3);
  // Round the weights to bf16 first so the naive reference sees the same values.
  for (auto& [name, w] : weights)
    for (float& v : w.values) v = bf16_to_float(float_to_bf16(v));
  const fs::path dir = testing::fresh_dir("bf16");
  testing::write_model(dir, c, weights, /*bf16=*/true);
  const std::vector<int32_t> ids = {1, 4, 8};
  const auto got = Engine::load(dir, {})->logits(ids);
  const auto want = testing::naive_logits(c, weights, ids);
  for (size_t t = 0; t < ids.size(); ++t)
    for (int v = 0; v < 40; ++v) EXPECT_NEAR(got[t * 40 + v], want[t][v], 1e-3);
  fs::remove_all(dir);
}

TEST(ModelTest, RejectsTokenIdsOutsideTheVocabularyAndTooLongRequests) {
  auto engine = Engine::load(kStories, {});
  const std::vector<int32_t> bad = {1, 512};
  try {
    engine->logits(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("512"), std::string::npos);
  }
  GenerateOptions options;
  options.max_new_tokens = 600;
  EXPECT_THROW(engine->generate({}, options), Error);
}

TEST(ModelTest, UnknownDeviceOrDtypeIsInvalidInput) {
  EngineOptions options;
  options.device = "tpu";
  EXPECT_THROW(Engine::load(kStories, options), Error);
  options.device = "cpu";
  options.dtype = "float8";
  EXPECT_THROW(Engine::load(kStories, options), Error);
#ifndef ASSAY_WITH_CUDA
  options.dtype = "float32";
  options.device = "cuda";
  EXPECT_THROW(Engine::load(kStories, options), Error);
#endif
}

TEST(ModelTest, SamplingIsReproducibleForASeed) {
  auto engine = Engine::load(kStories, {});
  GenerateOptions options;
  options.greedy = false;
  options.max_new_tokens = 30;
  options.seed = 42;
  options.temperature = 1.0;
  const auto a = engine->generate({}, options);
  const auto b = engine->generate({}, options);
  EXPECT_EQ(a, b);
  options.seed = 43;
  EXPECT_NE(a, engine->generate({}, options));
}

}  // namespace
}  // namespace assay::inference
