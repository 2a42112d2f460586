// Every shipped file under configs/ is valid as what it is: job specs validate (evaluate's run
// config included), run configs resolve and pass evaluate's checks, rubric JSONs load.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "eval/config_check.h"
#include "eval/submit/job_spec.h"
#include "judges/rubric.h"

namespace assay::submit {
namespace {
namespace fs = std::filesystem;

const fs::path kConfigs = fs::path(ASSAY_SOURCE_DIR) / "configs";

TEST(ShippedConfigsTest, EveryJsonFileIsValid) {
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kConfigs)) {
    const fs::path& p = entry.path();
    if (!entry.is_regular_file() || (p.extension() != ".json" && p.extension() != ".yaml")) {
      continue;
    }
    SCOPED_TRACE(p.string());
    std::string folder = p.parent_path().filename().string();
    try {
      if (folder == "evalctl") {
        JobSpec spec = load_job_spec(p);
        validate_job_spec(spec, p.string(), /*allow_plaintext_secrets=*/false,
                          /*local_backend=*/spec.image_uri.empty());
      } else if (folder == "judges") {
        judges::load_rubric(p.string());
      } else {
        // A judge's API key is never in a shipped file: it comes from the environment.
        eval::check_run_config({.environment = {}, .file = p, .api_key_from_secret = true});
      }
      ++checked;
    } catch (const Error& e) {
      ADD_FAILURE() << e.what();
    }
  }
  EXPECT_GE(checked, 9);  // 2 job specs, 4 rubrics, 3 run configs
}

}  // namespace
}  // namespace assay::submit
