#include "eval/commands/config_flags.h"

#include <cerrno>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "judges/registry.h"
#include "scoring/metric_registry.h"

namespace assay::eval {
using nlohmann::json;

void ConfigFlags::add_to(CLI::App* cmd) {
  cmd->add_option("--config,-c", config, "Run config file, JSON or YAML (env EVAL_CONFIG)");
  cmd->add_option("--dataset,-d", dataset, "Dataset: JSONL or JSON array (env DATASET_PATH)");
  cmd->add_option("--output,-o", output, "Run folder to write (env OUTPUT_DIR)");
  cmd->add_option(
      "--metrics,-m", metrics,
      "Comma-separated metrics or groups (env EVAL_METRICS). " + scoring::metrics_help());
  cmd->add_option("--reference-field", reference_field,
                  "Dataset field with the reference answer (default: output)");
  cmd->add_option("--prediction-field", prediction_field,
                  "Dataset field with the prediction (default: prediction)");
  cmd->add_option("--id-field", id_field, "Dataset field with the sample id (default: id)");
  cmd->add_option("--judge-rubric", judge_rubric,
                  "Judge rubric: handbook, reference, mt_bench_single, pairwise, or a rubric "
                  "JSON file (env JUDGE_RUBRIC)");
  cmd->add_option("--judge-provider", judge_provider,
                  "Judge: " + judges::provider_help() + " (env JUDGE_PROVIDER)");
  cmd->add_option("--judge-model", judge_model, "Judge model id (env JUDGE_MODEL)");
  cmd->add_option("--judge-base-url", judge_base_url,
                  "OpenAI-compatible endpoint (env JUDGE_BASE_URL, then OPENAI_BASE_URL)");
  cmd->add_option("--judge-max-concurrency", judge_max_concurrency,
                  "Judge requests in flight (env JUDGE_MAX_CONCURRENCY, default 32)");
  cmd->add_option("--judge-repeats", judge_repeats,
                  "Ask each judge question k times (1-20) and report the judge's self-agreement "
                  "(env JUDGE_REPEATS, default 1)");
  cmd->add_option("--judge-calibration", judge_calibration,
                  "Human labels (JSONL {\"id\", \"<criterion>\": score}): judge-human agreement "
                  "and the calibrated (PPI) mean (env JUDGE_CALIBRATION)");
}

ConfigSources config_file_sources(const std::string& config) {
  ConfigSources s;
  std::string path = config;
  if (path.empty()) {
    const char* env = std::getenv("EVAL_CONFIG");
    if (env != nullptr) path = env;
  }
  if (!path.empty()) s.file = path;
  return s;
}

void check_max_new_tokens(CLI::Option* option) {
  constexpr long long kMax = 1 << 20;  // generation.max_new_tokens's upper bound (run_settings)
  option->check(CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        long long v = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno != 0 || v < 0 || v > kMax) {
          return "must be a whole number from 0 to " + std::to_string(kMax) + ", got '" + text +
                 "'";
        }
        return "";
      },
      "0.." + std::to_string(kMax)));
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos <= text.size();) {
    size_t comma = std::min(text.find(',', pos), text.size());
    size_t begin = text.find_first_not_of(" \t", pos);
    size_t end = text.find_last_not_of(" \t", comma == 0 ? 0 : comma - 1);
    if (begin < comma && end != std::string::npos && end >= begin) {
      out.push_back(text.substr(begin, end - begin + 1));
    }
    pos = comma + 1;
  }
  return out;
}

ConfigSources ConfigFlags::sources() const {
  ConfigSources s = config_file_sources(config);
  auto flag = [&](const char* key, const std::string& v) {
    if (!v.empty()) s.flags.emplace_back(key, v);
  };
  flag("dataset", dataset);
  flag("output", output);
  flag("fields.reference", reference_field);
  flag("fields.prediction", prediction_field);
  flag("fields.id", id_field);
  flag("judge.rubric", judge_rubric);
  flag("judge.provider", judge_provider);
  flag("judge.model", judge_model);
  flag("judge.base_url", judge_base_url);
  if (judge_max_concurrency > 0)
    s.flags.emplace_back("judge.max_concurrency", judge_max_concurrency);
  if (judge_repeats != 0) s.flags.emplace_back("judge.repeats", judge_repeats);
  flag("judge.calibration", judge_calibration);
  if (!metrics.empty()) s.flags.emplace_back("metrics", json(split_commas(metrics)));
  return s;
}

}  // namespace assay::eval
