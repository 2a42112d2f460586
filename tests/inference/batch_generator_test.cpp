// Continuous batching against one-at-a-time generation (Engine::generate, an independent path),
// against stories260K's published output, sampling reproducibility, stop strings / EOS, and
// batched log-likelihood against a direct full-sequence forward with the test's own log-softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "inference/batch_generator.h"
#include "inference/engine.h"
#include "inference/tokenizer.h"
#include "tests/inference/test_util.h"

namespace assay::inference {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kStories = fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K";

// Published in llama2.c doc/stories260K.md and in models/stories260K/README.md.
const std::vector<int32_t> kStoriesGreedy = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                                             315, 421, 395, 317, 426, 338, 401, 396, 267, 337};
const std::string kStoriesText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.";

std::map<std::string, GenerationResult> run_all(Engine& engine, const Tokenizer& tokenizer,
                                                const std::vector<GenerationRequest>& requests,
                                                const SamplingParams& params, int batch_size) {
  BatchOptions options;
  options.max_batch_size = batch_size;
  BatchGenerator generator(engine, tokenizer, options);
  std::map<std::string, GenerationResult> out;
  const size_t done = generator.run(requests, params, [&](GenerationResult&& r) {
    EXPECT_EQ(out.count(r.id), 0u) << "reported twice: " << r.id;
    out[r.id] = std::move(r);
  });
  EXPECT_EQ(done, requests.size());
  EXPECT_EQ(out.size(), requests.size());
  return out;
}

std::vector<GenerationRequest> story_requests(const Tokenizer& tokenizer) {
  const std::vector<std::string> prompts = {
      "Once upon a time",
      "Tom had a dog",
      "",
      "The sun was hot and the children went to the park to play with a big ball",
      "Lily",
      "One day, a little bird flew",
      "Mom said no"};
  std::vector<GenerationRequest> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    requests.push_back({"r" + std::to_string(i), tokenizer.encode(prompts[i], true)});
  }
  return requests;
}

// Engine::generate's output (EOS kept) as the batched path reports it (EOS dropped).
std::vector<int32_t> one_at_a_time(Engine& engine, const std::vector<int32_t>& prompt,
                                   int max_new) {
  GenerateOptions options;
  options.max_new_tokens = max_new;
  std::vector<int32_t> ids = engine.generate(prompt, options);
  const auto& eos = engine.config().eos_token_ids;
  if (!ids.empty() && std::find(eos.begin(), eos.end(), ids.back()) != eos.end()) ids.pop_back();
  return ids;
}

TEST(BatchGeneratorTest, Stories260KReproducesPublishedIdsThroughBatchedPath) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(kStories);
  std::vector<GenerationRequest> requests = story_requests(*tokenizer);
  requests.push_back({"bos-only", {}});
  requests.push_back({"bos-explicit", {1}});
  SamplingParams params;
  params.max_new_tokens = 20;
  for (int batch : {1, 3, 9}) {
    auto out = run_all(*engine, *tokenizer, requests, params, batch);
    for (const char* id : {"bos-only", "bos-explicit"}) {
      EXPECT_EQ(out[id].output_ids, kStoriesGreedy) << "batch " << batch << " " << id;
      EXPECT_EQ(out[id].finish_reason, "length");
      EXPECT_EQ(out[id].completion_tokens, 20u);
      EXPECT_EQ(out[id].prompt_tokens, 1u);
      ASSERT_FALSE(out[id].text.empty());
      EXPECT_EQ(kStoriesText.substr(0, out[id].text.size()), out[id].text);
    }
  }
}

TEST(BatchGeneratorTest, BatchedGreedyEqualsOneAtATimeForEveryBatchSize) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(kStories);
  const std::vector<GenerationRequest> requests = story_requests(*tokenizer);
  SamplingParams params;
  params.max_new_tokens = 40;
  std::map<std::string, std::vector<int32_t>> expected;
  for (const auto& r : requests) expected[r.id] = one_at_a_time(*engine, r.prompt_ids, 40);
  for (int batch = 1; batch <= static_cast<int>(requests.size()) + 1; ++batch) {
    auto out = run_all(*engine, *tokenizer, requests, params, batch);
    for (const auto& r : requests) {
      EXPECT_EQ(out[r.id].output_ids, expected[r.id]) << "batch " << batch << " " << r.id;
      EXPECT_EQ(out[r.id].text, tokenizer->decode(expected[r.id], true));
      EXPECT_EQ(out[r.id].finish_reason, expected[r.id].size() < 40 ? "eos" : "length");
    }
  }
}

json random_config(const std::string& arch) {
  json c = {{"architectures", {arch}},
            {"hidden_size", 32},
            {"intermediate_size", 48},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"vocab_size", 512},  // the stories260K tokenizer decodes its ids
            {"max_position_embeddings", 96},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 10000.0},
            {"tie_word_embeddings", false},
            {"hidden_act", "silu"},
            {"bos_token_id", 1},
            {"eos_token_id", 2}};
  if (arch == "MistralForCausalLM") c["sliding_window"] = 7;
  return c;
}

TEST(BatchGeneratorTest, RandomModelsBatchedGreedyEqualsOneAtATimeWithVariedPromptLengths) {
  auto tokenizer = Tokenizer::load(kStories);
  for (const std::string arch : {"LlamaForCausalLM", "MistralForCausalLM"}) {
    const fs::path dir = testing::fresh_dir("batch-" + arch);
    const json config = random_config(arch);
    testing::write_model(dir, config, testing::random_weights(config, 11));
    auto engine = Engine::load(dir, {});
    std::vector<GenerationRequest> requests;
    uint64_t state = 5;
    for (int i = 0; i < 10; ++i) {
      const size_t len = 1 + (i * 7) % 23;  // 1 .. 23 tokens
      std::vector<int32_t> prompt;
      for (size_t t = 0; t < len; ++t) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        prompt.push_back(3 + static_cast<int32_t>((state >> 33) % 500));
      }
      requests.push_back({"q" + std::to_string(i), prompt});
    }
    SamplingParams params;
    params.max_new_tokens = 30;
    std::map<std::string, std::vector<int32_t>> expected;
    for (const auto& r : requests) expected[r.id] = one_at_a_time(*engine, r.prompt_ids, 30);
    for (int batch : {1, 4, 16}) {
      auto out = run_all(*engine, *tokenizer, requests, params, batch);
      for (const auto& r : requests)
        EXPECT_EQ(out[r.id].output_ids, expected[r.id])
            << arch << " batch " << batch << " " << r.id;
    }
    fs::remove_all(dir);
  }
}

// A generator keeps its KV cache between runs: a run that needs more positions makes a new one,
// a later smaller run reuses it with the earlier runs' keys and values still in it. Every run
// must still give each request its one-at-a-time output.
TEST(BatchGeneratorTest, ReusedGeneratorGivesEveryRunItsOneAtATimeOutput) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(kStories);
  const std::vector<GenerationRequest> all = story_requests(*tokenizer);
  const std::vector<GenerationRequest> few = {all[3], all[0], all[5]};
  BatchOptions options;
  options.max_batch_size = 4;
  BatchGenerator generator(*engine, *tokenizer, options);
  struct Run {
    const std::vector<GenerationRequest>* requests;
    int max_new;
  };
  // Small cache, then more positions and slots (a new cache), then smaller again (reused).
  for (const Run run : {Run{&few, 8}, Run{&all, 40}, Run{&few, 25}, Run{&all, 12}}) {
    SamplingParams params;
    params.max_new_tokens = run.max_new;
    std::map<std::string, std::vector<int32_t>> got;
    EXPECT_EQ(generator.run(*run.requests, params,
                            [&](GenerationResult&& r) { got[r.id] = std::move(r.output_ids); }),
              run.requests->size());
    for (const auto& r : *run.requests)
      EXPECT_EQ(got[r.id], one_at_a_time(*engine, r.prompt_ids, run.max_new))
          << "max_new " << run.max_new << " " << r.id;
  }
}

TEST(BatchGeneratorTest, SamplingIsReproducibleAcrossRunsBatchSizesAndCompanions) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(kStories);
  const std::vector<GenerationRequest> requests = story_requests(*tokenizer);
  SamplingParams params;
  params.temperature = 0.9;
  params.top_k = 50;
  params.top_p = 0.95;
  params.min_p = 0.02;
  params.repetition_penalty = 1.1;
  params.max_new_tokens = 30;
  params.seed = 1234;
  auto a = run_all(*engine, *tokenizer, requests, params, 4);
  auto b = run_all(*engine, *tokenizer, requests, params, 4);
  auto c = run_all(*engine, *tokenizer, requests, params, 1);
  auto d = run_all(*engine, *tokenizer, requests, params, 7);
  // The same request alone: its companions do not change its output.
  auto alone = run_all(*engine, *tokenizer, {requests[3]}, params, 4);
  SamplingParams greedy;
  greedy.max_new_tokens = 30;
  auto g = run_all(*engine, *tokenizer, requests, greedy, 4);
  params.seed = 1235;
  auto other_seed = run_all(*engine, *tokenizer, requests, params, 4);
  int differs_from_greedy = 0, differs_across_seeds = 0;
  for (const auto& r : requests) {
    EXPECT_EQ(a[r.id].output_ids, b[r.id].output_ids) << r.id;
    EXPECT_EQ(a[r.id].output_ids, c[r.id].output_ids) << r.id;
    EXPECT_EQ(a[r.id].output_ids, d[r.id].output_ids) << r.id;
    differs_from_greedy += a[r.id].output_ids != g[r.id].output_ids;
    differs_across_seeds += a[r.id].output_ids != other_seed[r.id].output_ids;
  }
  EXPECT_EQ(alone[requests[3].id].output_ids, a[requests[3].id].output_ids);
  // It really samples, and the seed matters.
  EXPECT_GT(differs_from_greedy, 0);
  EXPECT_GT(differs_across_seeds, 0);
}

TEST(BatchGeneratorTest, DegenerateFiltersReduceSamplingToGreedy) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(kStories);
  const std::vector<GenerationRequest> requests = story_requests(*tokenizer);
  SamplingParams greedy;
  greedy.max_new_tokens = 15;
  auto expected = run_all(*engine, *tokenizer, requests, greedy, 8);
  SamplingParams top_k = greedy, top_p = greedy, min_p = greedy;
  top_k.temperature = top_p.temperature = min_p.temperature = 1.5;
  top_k.top_k = 1;
  top_p.top_p = 1e-9;
  min_p.min_p = 1.0;
  for (const SamplingParams& p : {top_k, top_p, min_p}) {
    auto out = run_all(*engine, *tokenizer, requests, p, 8);
    for (const auto& r : requests) EXPECT_EQ(out[r.id].output_ids, expected[r.id].output_ids);
  }
}

TEST(BatchGeneratorTest, RepetitionPenaltyFollowsHuggingFaceSemantics) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(kStories);
  // BOS + the published greedy ids up to the second 261: the plain argmax (261) is in the prompt.
  std::vector<int32_t> prompt = {1};
  prompt.insert(prompt.end(), kStoriesGreedy.begin(), kStoriesGreedy.begin() + 7);
  const double penalty = 5.0;
  // The test's own penalized argmax over the direct forward's last row.
  const std::vector<float> logits = engine->logits(prompt);
  const int64_t vocab = engine->config().vocab_size;
  std::vector<double> last(logits.end() - vocab, logits.end());
  const int32_t plain =
      static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
  for (int32_t id : std::set<int32_t>(prompt.begin(), prompt.end()))
    last[id] = last[id] > 0 ? last[id] / penalty : last[id] * penalty;
  const int32_t penalized =
      static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
  SamplingParams params;
  params.max_new_tokens = 1;
  params.repetition_penalty = penalty;
  auto out = run_all(*engine, *tokenizer, {{"p", prompt}}, params, 2);
  ASSERT_EQ(out["p"].output_ids.size(), 1u);
  EXPECT_EQ(out["p"].output_ids[0], penalized);
  ASSERT_NE(penalized, plain) << "the penalty must change the pick for this test to mean anything";
}

SamplingParams eos_free(SamplingParams p) {
  p.stop.clear();
  return p;
}

TEST(BatchGeneratorTest, StopStringsEosListsAndLengthSetFinishReason) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(kStories);
  const std::vector<GenerationRequest> requests = {{"a", {}}, {"b", {1}}};
  SamplingParams params;
  params.max_new_tokens = 40;
  params.stop = {"named", "little"};  // "little" comes first in the published text
  auto out = run_all(*engine, *tokenizer, requests, params, 2);
  for (const char* id : {"a", "b"}) {
    EXPECT_EQ(out[id].finish_reason, "stop");
    EXPECT_EQ(out[id].text, kStoriesText.substr(0, kStoriesText.find("little")));
    EXPECT_LT(out[id].output_ids.size(), 20u);
  }
  SamplingParams eos = {};
  eos.max_new_tokens = 40;
  eos.eos_ids = {500, kStoriesGreedy[5]};  // a list; the second appears at step 6
  out = run_all(*engine, *tokenizer, requests, eos, 2);
  for (const char* id : {"a", "b"}) {
    EXPECT_EQ(out[id].finish_reason, "eos");
    EXPECT_EQ(out[id].output_ids,
              std::vector<int32_t>(kStoriesGreedy.begin(), kStoriesGreedy.begin() + 5));
    EXPECT_EQ(out[id].text, tokenizer->decode(out[id].output_ids, true));
  }
  // The context bounds max_new_tokens: 10 positions, 1 prompt token -> 9 new ids.
  BatchOptions small;
  small.max_context = 10;
  BatchGenerator generator(*engine, *tokenizer, small);
  std::vector<GenerationResult> results;
  generator.run(requests, eos_free(params),
                [&](GenerationResult&& r) { results.push_back(std::move(r)); });
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_EQ(r.finish_reason, "length");
    EXPECT_EQ(r.output_ids,
              std::vector<int32_t>(kStoriesGreedy.begin(), kStoriesGreedy.begin() + 9));
  }
}

TEST(BatchGeneratorTest, RejectsBadInputBeforeGenerating) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(kStories);
  BatchGenerator generator(*engine, *tokenizer, {});
  int calls = 0;
  auto count = [&](GenerationResult&&) { ++calls; };
  SamplingParams params;
  EXPECT_THROW(
      generator.run(std::vector<GenerationRequest>{{"ok", {1}}, {"bad", {1, 512}}}, params, count),
      Error);
  EXPECT_THROW(generator.run(std::vector<GenerationRequest>{{"long", std::vector<int32_t>(512, 5)}},
                             params, count),
               Error);
  params.top_p = 0;
  EXPECT_THROW(generator.run(std::vector<GenerationRequest>{{"ok", {1}}}, params, count), Error);
  EXPECT_EQ(calls, 0);
  EXPECT_THROW(BatchGenerator(*engine, *tokenizer, BatchOptions{0, 10, 0}), Error);
  // A stop flag already set: nothing is admitted.
  std::atomic<bool> stop{true};
  EXPECT_EQ(
      generator.run(std::vector<GenerationRequest>{{"ok", {1}}}, SamplingParams{}, count, &stop),
      0u);
  EXPECT_EQ(calls, 0);
}

// log P(continuation | context) from Engine::logits with the test's own log-softmax in double.
std::vector<double> direct_logprobs(Engine& engine, const LoglikelihoodRequest& r) {
  std::vector<int32_t> ids = r.context.empty() ? std::vector<int32_t>{1} : r.context;
  const size_t ctx = ids.size();
  ids.insert(ids.end(), r.continuation.begin(), r.continuation.end());
  const std::vector<float> logits = engine.logits(ids);
  const size_t vocab = engine.config().vocab_size;
  std::vector<double> out;
  for (size_t j = 0; j < r.continuation.size(); ++j) {
    const float* row = logits.data() + (ctx - 1 + j) * vocab;
    double mx = row[0];
    for (size_t i = 0; i < vocab; ++i) mx = std::max(mx, double(row[i]));
    double sum = 0;
    for (size_t i = 0; i < vocab; ++i) sum += std::exp(double(row[i]) - mx);
    out.push_back(double(row[r.continuation[j]]) - mx - std::log(sum));
  }
  return out;
}

TEST(BatchGeneratorTest, LoglikelihoodMatchesDirectForward) {
  auto engine = Engine::load(kStories, {});
  auto tokenizer = Tokenizer::load(kStories);
  std::vector<LoglikelihoodRequest> requests = {
      {tokenizer->encode("Once upon a time", true), tokenizer->encode(" there was a girl", false)},
      {{}, {403, 407, 261, 378}},  // BOS context; the published greedy start
      {tokenizer->encode("Tom had a big red", true), tokenizer->encode(" dog", false)},
      {tokenizer->encode("The cat sat on the mat and looked at the bird in the tree", true),
       tokenizer->encode(" and it was happy.", false)},
      {tokenizer->encode("Lily", true), tokenizer->encode(" went to the park to play", false)},
  };
  for (int batch : {1, 2, 8}) {
    const auto results = loglikelihood(*engine, requests, batch);
    ASSERT_EQ(results.size(), requests.size());
    for (size_t r = 0; r < requests.size(); ++r) {
      const std::vector<double> expected = direct_logprobs(*engine, requests[r]);
      ASSERT_EQ(results[r].token_logprobs.size(), expected.size());
      double sum = 0;
      for (size_t j = 0; j < expected.size(); ++j) {
        EXPECT_NEAR(results[r].token_logprobs[j], expected[j], 1e-4) << r << " " << j;
        sum += expected[j];
      }
      EXPECT_NEAR(results[r].sum_logprob, sum, 1e-4) << r;
    }
    // The published greedy continuation from BOS is greedy; a dog after "big red" need not be.
    EXPECT_TRUE(results[1].is_greedy);
  }
}

}  // namespace
}  // namespace assay::inference
