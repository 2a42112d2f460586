// LoRA: an adapter with known A and B, merged at load, must give the logits of a base model whose
// weights this test merged itself (W + alpha/r * B @ A in plain loops).
#include "inference/lora.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/fs.h"
#include "inference/engine.h"
#include "tests/inference/test_util.h"

namespace assay::inference {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json tiny_llama() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"hidden_size", 24},
          {"intermediate_size", 40},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"vocab_size", 30},
          {"rms_norm_eps", 1e-5},
          {"tie_word_embeddings", false},
          {"bos_token_id", 1}};
}

struct Fixture {
  fs::path root;
  json config = tiny_llama();
  testing::Weights base;
  testing::Weights merged;
  fs::path base_dir, adapter_dir, merged_dir;
};

// r = 4, alpha = 6 (scale 1.5) on q_proj and v_proj of both layers and down_proj of layer 1.
Fixture make_fixture(const std::string& name, const std::string& base_name_in_config) {
  Fixture f;
  f.root = testing::fresh_dir(name);
  f.base_dir = f.root / "base";
  f.adapter_dir = f.root / "adapter";
  f.merged_dir = f.root / "merged";
  f.base = testing::random_weights(f.config, 5);
  testing::write_model(f.base_dir, f.config, f.base);
  f.merged = f.base;
  const int64_t r = 4;
  const double alpha = 6.0, scale = alpha / r;
  uint64_t state = 99;
  std::vector<std::string> targets = {
      "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
      "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj",
      "model.layers.1.mlp.down_proj"};
  std::vector<std::vector<float>> keep;
  keep.reserve(2 * targets.size());  // references into it stay valid
  std::vector<TensorToWrite> tensors;
  for (const std::string& module : targets) {
    testing::Weight& w = f.merged.at(module + ".weight");
    const int64_t out = w.shape[0], in = w.shape[1];
    keep.push_back(testing::random_values(r * in, state, 0.5f));
    const std::vector<float>& a = keep.back();
    keep.push_back(testing::random_values(out * r, state, 0.5f));
    const std::vector<float>& b = keep.back();
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < in; ++i) {
        double delta = 0;
        for (int64_t k = 0; k < r; ++k) delta += static_cast<double>(b[o * r + k]) * a[k * in + i];
        w.values[o * in + i] = static_cast<float>(w.values[o * in + i] + scale * delta);
      }
    }
    tensors.push_back({"base_model.model." + module + ".lora_A.weight",
                       DType::kF32,
                       {r, in},
                       std::as_bytes(std::span(keep[keep.size() - 2]))});
    tensors.push_back({"base_model.model." + module + ".lora_B.weight",
                       DType::kF32,
                       {out, r},
                       std::as_bytes(std::span(keep.back()))});
  }
  fs::create_directories(f.adapter_dir);
  write_safetensors(f.adapter_dir / "adapter_model.safetensors", tensors);
  json adapter = {{"peft_type", "LORA"},
                  {"r", r},
                  {"lora_alpha", alpha},
                  {"target_modules", {"q_proj", "v_proj", "down_proj"}},
                  {"base_model_name_or_path",
                   base_name_in_config.empty() ? f.base_dir.string() : base_name_in_config},
                  {"fan_in_fan_out", false},
                  {"lora_dropout", 0.05}};
  atomic_write(f.adapter_dir / "adapter_config.json", adapter.dump(2));
  testing::write_model(f.merged_dir, f.config, f.merged);
  return f;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

TEST(LoraTest, MergedAdapterGivesTheLogitsOfIndependentlyMergedWeights) {
  Fixture f = make_fixture("lora", "");
  const std::vector<int32_t> ids = {1, 4, 9, 16, 25, 2, 7};
  auto adapted = Engine::load(f.adapter_dir, {})->logits(ids);  // base from base_model_name_or_path
  auto merged = Engine::load(f.merged_dir, {})->logits(ids);
  auto base = Engine::load(f.base_dir, {})->logits(ids);
  EXPECT_LT(max_diff(adapted, merged), 1e-5);
  EXPECT_GT(max_diff(adapted, base), 1e-2) << "the adapter must change the logits";
  fs::remove_all(f.root);
}

TEST(LoraTest, BaseModelFlagOverridesAHubIdInTheAdapterConfig) {
  Fixture f = make_fixture("lora-hub", "meta-llama/Llama-3.2-1B");
  try {
    Engine::load(f.adapter_dir, {});
    FAIL() << "a hub id is not a local base";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("base_model_name_or_path"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--base-model"), std::string::npos) << e.what();
  }
  EngineOptions options;
  options.base_model = f.base_dir;
  const std::vector<int32_t> ids = {1, 3, 5};
  EXPECT_LT(max_diff(Engine::load(f.adapter_dir, options)->logits(ids),
                     Engine::load(f.merged_dir, {})->logits(ids)),
            1e-5);
  fs::remove_all(f.root);
}

TEST(LoraTest, ParsesPeftConfigAndKeys) {
  Fixture f = make_fixture("lora-parse", "");
  LoraAdapter adapter = load_lora_adapter(f.adapter_dir);
  EXPECT_EQ(adapter.r, 4);
  EXPECT_DOUBLE_EQ(adapter.scale(), 1.5);
  EXPECT_EQ(adapter.pairs.size(), 5u);
  EXPECT_TRUE(adapter.pairs.count("model.layers.1.mlp.down_proj.weight"));
  EXPECT_EQ(adapter.target_modules, (std::vector<std::string>{"q_proj", "v_proj", "down_proj"}));
  fs::remove_all(f.root);
}

TEST(LoraTest, AdapterThatDoesNotFitTheBaseIsRejected) {
  Fixture f = make_fixture("lora-misfit", "");
  // Rank in the config disagrees with the tensors.
  json cfg = json::parse(read_file(f.adapter_dir / "adapter_config.json"));
  cfg["r"] = 8;
  atomic_write(f.adapter_dir / "adapter_config.json", cfg.dump());
  try {
    Engine::load(f.adapter_dir, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("adapter_model.safetensors"), std::string::npos)
        << e.what();
  }
  // A base with a different hidden size.
  cfg["r"] = 4;
  atomic_write(f.adapter_dir / "adapter_config.json", cfg.dump());
  json other = tiny_llama();
  other["hidden_size"] = 32;
  testing::write_model(f.base_dir, other, testing::random_weights(other, 1));
  try {
    Engine::load(f.adapter_dir, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the base weight"), std::string::npos)
        << e.what();
  }
  fs::remove_all(f.root);
}

}  // namespace
}  // namespace assay::inference
