#include "eval/config_check.h"

#include "core/error.h"
#include "eval/config.h"
#include "eval/gates.h"
#include "eval/run_settings.h"
#include "judges/rubric.h"

namespace assay::eval {

void check_run_config(const RunConfigCheck& check) {
  ConfigSources sources;
  sources.file = check.file;
  std::map<std::string, std::string> env = check.environment;
  if (check.api_key_from_secret) env.emplace("JUDGE_API_KEY", "from-secrets-manager");
  sources.getenv = [&env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  const ResolvedConfig cfg = resolve_config(sources);
  const RunSettings settings = run_settings_from(cfg);
  if (!settings.judge.provider.empty()) {
    const std::string& rubric = settings.judge.rubric;
    bool is_path = rubric.find('/') != std::string::npos || rubric.ends_with(".json");
    std::error_code ec;
    if (!is_path || std::filesystem::exists(rubric, ec)) {
      try {
        judges::load_rubric(rubric);
      } catch (const Error& e) {
        throw_invalid(settings.judge.label("judge.rubric") + ": " + e.what());
      }
    }
  }
  gates_from_config(cfg);
}

}  // namespace assay::eval
