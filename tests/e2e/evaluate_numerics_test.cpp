// Broken numbers are reported, not turned into silent zeros: a checkpoint holding a NaN is exit 2
// naming the tensor, and a model whose logits overflow ends its samples with finish_reason
// "error", counted in summary.json.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::shell_quote;

const fs::path kRepo = ASSAY_SOURCE_DIR;

// A copy of stories260K whose F32 tensor `name` has every element set to `value` (first_only:
// only element 0). Edits the safetensors bytes in place: 8-byte header length, JSON header,
// then the data section the header's offsets point into.
fs::path stories_with(testing::TempDir& dir, const std::string& name, float value,
                      bool first_only) {
  fs::path model = dir / ("m-" + name);
  fs::copy(kRepo / "models/stories260K", model, fs::copy_options::recursive);
  std::string bytes = read_file(model / "model.safetensors");
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const json header = json::parse(bytes.substr(8, n));
  const json& t = header.at(name);
  EXPECT_EQ(t["dtype"], "F32");
  const size_t begin = 8 + n + t["data_offsets"][0].get<size_t>();
  const size_t end = first_only ? begin + 4 : 8 + n + t["data_offsets"][1].get<size_t>();
  for (size_t at = begin; at < end; at += 4) std::memcpy(bytes.data() + at, &value, 4);
  atomic_write(model / "model.safetensors", bytes);
  return model;
}

testing::ProcessResult run(const fs::path& model, const fs::path& out) {
  return testing::run_evaluate("run --dummy --dataset " +
                               shell_quote((kRepo / "configs/sample/llmtwin_test.jsonl").string()) +
                               " --max-new-tokens 4 --model " + shell_quote(model.string()) +
                               " --output " + shell_quote(out.string()));
}

TEST(EvaluateNumericsTest, ANaNWeightIsExitTwoNamingTheTensor) {
  testing::TempDir dir;
  fs::path model = stories_with(dir, "model.layers.0.mlp.up_proj.weight",
                                std::numeric_limits<float>::quiet_NaN(), /*first_only=*/true);
  auto r = run(model, dir / "out");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("tensor 'model.layers.0.mlp.up_proj.weight' holds NaN or Inf"),
            std::string::npos)
      << r.output;
  const fs::path gens = dir / "out" / "generations.jsonl";
  EXPECT_TRUE(!fs::exists(gens) || fs::file_size(gens) == 0) << "nothing is generated";
}

TEST(EvaluateNumericsTest, OverflowingLogitsEndTheSampleWithFinishReasonError) {
  // The final norm's weights at 3e38: its output, and so every logit of the tied head, overflows.
  testing::TempDir dir;
  fs::path model = stories_with(dir, "model.norm.weight", 3e38f, /*first_only=*/false);
  auto r = run(model, dir / "out");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("NaN or infinite logits"), std::string::npos) << r.output;
  for (const auto& g : testing::read_json_lines(dir / "out" / "generations.jsonl")) {
    EXPECT_EQ(g["finish_reason"], "error") << g.dump();
    EXPECT_EQ(g["completion_tokens"], 0) << g.dump();
  }
  const json summary = json::parse(read_file(dir / "out" / "summary.json"));
  EXPECT_EQ(summary["generation"]["finish_reasons"]["error"], 8) << summary.dump(1);
}

}  // namespace
}  // namespace assay
