// The pieces of `evaluate run` that need no model run: the model fingerprint (what changes it) and
// the bundled-model lookup order.
#include "eval/model_identity.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
namespace fs = std::filesystem;

const fs::path kStories = fs::path(ASSAY_SOURCE_DIR) / "models/stories260K";

TEST(ModelFingerprintTest, ChangesWithConfigAndWeightsNotWithOtherFiles) {
  testing::TempDir dir;
  fs::path m = dir / "m";
  fs::copy(kStories, m);
  std::string base = model_fingerprint(m);
  EXPECT_EQ(base.size(), 64u);
  EXPECT_EQ(model_fingerprint(m), base) << "deterministic";
  dir.write("m/notes.txt", "not part of the model");
  EXPECT_EQ(model_fingerprint(m), base);
  dir.write("m/generation_config.json", R"({"bos_token_id": 1, "eos_token_id": [2]})");
  std::string changed_gen = model_fingerprint(m);
  EXPECT_NE(changed_gen, base);
  // Bigger weights file (same header): the size is part of the fingerprint.
  std::string w = read_file(m / "model.safetensors");
  dir.write("m/model.safetensors", w + std::string(8, '\0'));
  EXPECT_NE(model_fingerprint(m), changed_gen);
  EXPECT_THROW(model_fingerprint(dir / "missing"), Error);
}

TEST(FindBundledModelTest, EnvironmentVariableComesFirst) {
  testing::TempDir dir;
  dir.write("alt/config.json", "{}");
  ::setenv("ASSAY_MODEL_DIR", (dir / "alt").c_str(), 1);
  EXPECT_EQ(find_bundled_model(), dir / "alt");
  // A folder without config.json is passed over for the next place (beside the binary or the
  // source tree), which holds stories260K.
  ::setenv("ASSAY_MODEL_DIR", (dir / "nothing").c_str(), 1);
  fs::path found = find_bundled_model();
  EXPECT_TRUE(fs::exists(found / "model.safetensors")) << found;
  EXPECT_EQ(found.filename(), "stories260K");
  ::unsetenv("ASSAY_MODEL_DIR");
}

}  // namespace
}  // namespace assay::eval
