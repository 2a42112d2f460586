// config.json parsing: per-architecture flags, RoPE scaling, and bad configs rejected with a
// message naming the file and the field.
#include "inference/model_config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "core/fs.h"
#include "inference/engine.h"
#include "tests/inference/test_util.h"

namespace assay::inference {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json base(const std::string& arch) {
  return {{"architectures", {arch}}, {"hidden_size", 64},        {"intermediate_size", 128},
          {"num_hidden_layers", 2},  {"num_attention_heads", 8}, {"num_key_value_heads", 2},
          {"vocab_size", 100},       {"rms_norm_eps", 1e-5}};
}

std::string error_of(const json& j) {
  try {
    parse_model_config(j, "m/config.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    return e.what();
  }
  return "";
}

TEST(ModelConfigTest, ArchitectureFlags) {
  ModelConfig llama = parse_model_config(base("LlamaForCausalLM"), "c");
  EXPECT_EQ(llama.head_dim, 8);
  EXPECT_FALSE(llama.qkv_bias);
  EXPECT_FALSE(llama.qk_norm);
  EXPECT_FALSE(llama.tie_word_embeddings);
  ModelConfig qwen2 = parse_model_config(base("Qwen2ForCausalLM"), "c");
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_FALSE(qwen2.o_bias);
  json q3 = base("Qwen3ForCausalLM");
  q3["head_dim"] = 128;
  ModelConfig qwen3 = parse_model_config(q3, "c");
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_EQ(qwen3.head_dim, 128);
  json m = base("MistralForCausalLM");
  m["sliding_window"] = 4096;
  EXPECT_EQ(parse_model_config(m, "c").sliding_window, 4096);
  m["sliding_window"] = nullptr;
  EXPECT_EQ(parse_model_config(m, "c").sliding_window, 0);
  json nokv = base("LlamaForCausalLM");
  nokv.erase("num_key_value_heads");
  EXPECT_EQ(parse_model_config(nokv, "c").num_kv_heads, 8);
}

TEST(ModelConfigTest, Llama3RopeScalingFollowsTheReferenceFormula) {
  // Llama-3.1-8B's settings: theta 500000, head_dim 128, factor 8, low 1, high 4, original 8192.
  json j = base("LlamaForCausalLM");
  j["hidden_size"] = 1024;
  j["rope_theta"] = 500000.0;
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  ModelConfig c = parse_model_config(j, "c");
  ASSERT_EQ(c.head_dim, 128);
  const auto inv = rope_inv_freq(c);
  ASSERT_EQ(inv.size(), 64u);
  for (int i = 0; i < 64; ++i) {
    const double f = 1.0 / std::pow(500000.0, 2.0 * i / 128);
    const double wavelen = 2 * std::numbers::pi / f;
    double want;
    if (wavelen < 8192.0 / 4)
      want = f;  // high frequencies kept
    else if (wavelen > 8192.0 / 1)
      want = f / 8;  // low frequencies scaled by the factor
    else {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      want = (1 - smooth) * f / 8 + smooth * f;
    }
    EXPECT_NEAR(inv[i], want, 1e-6 * want) << i;
  }
  // Sanity: the three regimes all occur for these settings.
  EXPECT_NEAR(inv[0], 1.0, 1e-7);
  EXPECT_NEAR(inv[63], 1.0 / std::pow(500000.0, 126.0 / 128) / 8, 1e-12);
}

TEST(ModelConfigTest, BadConfigsNameTheFileAndField) {
  json j = base("GPT2LMHeadModel");
  std::string msg = error_of(j);
  EXPECT_NE(msg.find("m/config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("GPT2LMHeadModel"), std::string::npos) << msg;

  j = base("LlamaForCausalLM");
  j["num_key_value_heads"] = 3;
  msg = error_of(j);
  EXPECT_NE(msg.find("'num_key_value_heads'"), std::string::npos) << msg;

  j = base("LlamaForCausalLM");
  j["num_attention_heads"] = 7;
  j["num_key_value_heads"] = 7;
  EXPECT_NE(error_of(j).find("'hidden_size'"), std::string::npos);

  j = base("LlamaForCausalLM");
  j.erase("vocab_size");
  EXPECT_NE(error_of(j).find("'vocab_size'"), std::string::npos);

  j = base("LlamaForCausalLM");
  j["hidden_size"] = "64";
  EXPECT_NE(error_of(j).find("'hidden_size'"), std::string::npos);

  j = base("LlamaForCausalLM");
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_NE(error_of(j).find("yarn"), std::string::npos);

  j = base("LlamaForCausalLM");
  j["hidden_act"] = "gelu";
  EXPECT_NE(error_of(j).find("'hidden_act'"), std::string::npos);

  EXPECT_NE(error_of(json::array()).find("not a JSON object"), std::string::npos);
}

TEST(ModelConfigTest, ShapeDisagreeingWithConfigIsRejectedNamingTensorAndFields) {
  json c = {{"architectures", {"LlamaForCausalLM"}},
            {"hidden_size", 16},
            {"intermediate_size", 24},
            {"num_hidden_layers", 1},
            {"num_attention_heads", 2},
            {"num_key_value_heads", 1},
            {"vocab_size", 20},
            {"rms_norm_eps", 1e-5},
            {"tie_word_embeddings", true}};
  const fs::path dir = testing::fresh_dir("cfg-shape");
  testing::write_model(dir, c, testing::random_weights(c, 1));
  EXPECT_NO_THROW(Engine::load(dir, {}));
  // config.json now claims 2 KV heads but k_proj was written for 1.
  c["num_key_value_heads"] = 2;
  atomic_write(dir / "config.json", c.dump());
  try {
    Engine::load(dir, {});
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("k_proj"), std::string::npos) << msg;
    EXPECT_NE(msg.find("num_key_value_heads"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[8, 16]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[16, 16]"), std::string::npos) << msg;
  }
  // Untied embeddings claimed but no lm_head.weight.
  c["num_key_value_heads"] = 1;
  c["tie_word_embeddings"] = false;
  atomic_write(dir / "config.json", c.dump());
  try {
    Engine::load(dir, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lm_head.weight"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(ModelConfigTest, MissingConfigIsNotFound) {
  const fs::path dir = testing::fresh_dir("cfg-missing");
  try {
    load_model_config(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos);
  }
  fs::remove_all(dir);
}

TEST(ModelConfigTest, GenerationConfigEosListWins) {
  const fs::path dir = testing::fresh_dir("cfg-gen");
  json c = base("Qwen2ForCausalLM");
  c["eos_token_id"] = 5;
  atomic_write(dir / "config.json", c.dump());
  atomic_write(dir / "generation_config.json", R"({"bos_token_id": 3, "eos_token_id": [7, 9]})");
  ModelConfig m = load_model_config(dir);
  EXPECT_EQ(m.eos_token_ids, (std::vector<int32_t>{7, 9}));
  EXPECT_EQ(m.bos_token_id, 3);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace assay::inference
