#include "eval/plan.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/suggest.h"
#include "eval/judge_reliability.h"
#include "eval/model_identity.h"
#include "judges/rubric.h"
#include "scoring/metric_registry.h"
#include "scoring/scorer.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool valid_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 100) return false;
  // Not one of the parent folder's own files (summary.json, compare.json, report.md, ...).
  for (const char* ext : {".json", ".jsonl", ".md", ".html"}) {
    if (name.ends_with(ext)) return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// What the run will produce, for checking gates before generation starts.
GateContext gate_context(const RunSettings& settings, const std::vector<ModelEntry>& models) {
  GateContext ctx;
  std::vector<scoring::MetricRequest> string_metrics = settings.metrics;
  for (const auto& column : scoring::take_model_metrics(string_metrics)) {
    ctx.metrics.insert(column);
    if (column == "ref_perplexity") ctx.corpus.insert("perplexity");
  }
  for (const auto& column : scoring::resolve_metrics(string_metrics)) {
    ctx.metrics.insert(column);
    const scoring::MetricFamily* family = scoring::find_family(column);
    if (family != nullptr && family->corpus) ctx.corpus.insert(family->corpus->name);
  }
  if (!settings.judge.provider.empty()) {
    judges::Rubric rubric = judges::load_rubric(settings.judge.rubric);
    ctx.judge_criteria.emplace();
    if (rubric.kind == judges::RubricKind::kPairwise) ctx.judge_criteria->insert("pairwise");
    for (const auto& c : rubric.criteria) ctx.judge_criteria->insert(c.name);
    ctx.judge_figures = reliability_figures(settings.judge.repeats, settings.judges.size(),
                                            !settings.judge_calibration.empty(),
                                            rubric.kind == judges::RubricKind::kPairwise);
  }
  for (const auto& m : models) ctx.models.insert(m.name);
  ctx.has_compare = models.size() >= 2;
  return ctx;
}

void require_dataset_and_output(const RunSettings& settings) {
  if (settings.dataset.empty()) {
    throw_invalid("no dataset: pass --dataset, set DATASET_PATH, or set `dataset` in the config");
  }
  if (settings.output.empty()) {
    throw_invalid("no output folder: pass --output, set OUTPUT_DIR, or set `output` in the config");
  }
}

// One model's plan for `evaluate run`.
ModelPlan plan_model(const RunPlan& plan, std::string name, ResolvedConfig cfg) {
  ModelPlan m{std::move(name), std::move(cfg), {}, {}, {}, {}};
  m.settings = run_settings_from(m.config);
  RunSettings& settings = m.settings;
  m.loglik_columns = scoring::take_model_metrics(settings.metrics);
  const ContainerLayout& container = plan.container;
  if (settings.dataset.empty() && !container.dataset_error.empty()) {
    throw_invalid(container.dataset_error);
  }
  if (settings.model.empty() && !container.model_error.empty()) {
    throw_invalid(container.model_error);
  }
  require_dataset_and_output(settings);
  settings.output = shard_output_dir(settings.output, plan.shard).string();
  const GenerationSettings& gen = settings.generation;
  if (!gen.prompt_template.empty()) {
    m.prompts = PromptBuilder::from_template(gen.prompt_template, gen.prompt_template_key);
  } else if (!gen.chat_template_file.empty()) {
    chat_prompts_for(gen, {}, std::nullopt);  // a template outside the subset fails before any load
  }
  m.model_path = settings.model;
  // A served model needs no local one (a local one, when given, counts tokens and holds the
  // chat template).
  if (m.model_path.empty() && settings.generation.backend != "local") return m;
  if (m.model_path.empty()) {
    if (!settings.dummy) {
      throw_invalid(
          "no model: pass --model, set MODEL_PATH, or set `model` in the config (or "
          "use --dummy to run the bundled tiny model)");
    }
    m.model_path = find_bundled_model();
    log::info("dummy run with the bundled model", {{"model", m.model_path.string()}});
  }
  std::error_code ec;
  if (!fs::exists(m.model_path, ec)) throw_not_found(m.model_path.string() + ": model not found");
  return m;
}

// The per-model config of a multi-model run: the run's sources, with this model's path and
// folder, and no `models` list.
ResolvedConfig model_config(const ConfigSources& sources, const fs::path& parent,
                            const ModelEntry& m) {
  ConfigSources s = sources;
  s.flags.emplace_back("models", json::array());
  s.flags.emplace_back("output", (parent / m.name).string());
  if (!m.path.empty()) s.flags.emplace_back("model", m.path);
  if (!m.base_model.empty()) s.flags.emplace_back("base_model", m.base_model);
  return resolve_config(s);
}

}  // namespace

RunPlan plan_run(PlanRequest request) {
  RunPlan plan;
  plan.command = request.command;
  plan.overwrite = request.overwrite;
  plan.retry_judge_errors = request.retry_judge_errors;
  plan.container = std::move(request.container);
  ConfigSources& sources = request.sources;
  read_container_inputs(plan.container, sources);
  plan.shard = request.shard.empty() ? plan.container.shard.value_or(ShardSpec{})
                                     : parse_shard(request.shard);
  plan.config = resolve_config(sources);
  plan.settings = run_settings_from(plan.config);
  plan.output = plan.settings.output;
  if (plan.command == "score") {
    require_dataset_and_output(plan.settings);
    ModelPlan m{"", plan.config, plan.settings, {}, {}, {}};
    scoring::resolve_metrics(m.settings.metrics);  // rejects model metrics (they need a model)
    plan.models.push_back(std::move(m));
    return plan;
  }
  std::vector<ModelEntry> entries = models_from_config(plan.config);
  plan.baseline = baseline_of(plan.config, entries);
  plan.gates = gates_from_config(plan.config);
  validate_gates(plan.gates, gate_context(plan.settings, entries));
  plan.multi = !entries.empty();
  if (!plan.multi) {
    plan.models.push_back(plan_model(plan, "", plan.config));
    return plan;
  }
  if (plan.output.empty()) {
    throw_invalid("no output folder: pass --output, set OUTPUT_DIR, or set `output` in the config");
  }
  if (!plan.settings.model.empty()) {
    throw_invalid("both `model` (from " + plan.config.origin("model") + ") and `models` (from " +
                  plan.config.origin("models") + ") are set; use one");
  }
  for (const auto& e : entries) {
    plan.models.push_back(plan_model(plan, e.name, model_config(sources, plan.output, e)));
  }
  plan.entries = std::move(entries);
  return plan;
}

std::vector<ModelEntry> models_from_config(const ResolvedConfig& cfg) {
  std::vector<ModelEntry> out;
  const json& list = cfg.at("models");
  if (list.is_null()) return out;
  const std::string origin = "models (from " + cfg.origin("models") + ")";
  const bool dummy = cfg.get_bool("dummy");
  const std::vector<std::string> fields = {"name", "path", "base_model"};
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    std::string at = origin + ": entry " + std::to_string(i);
    if (!e.is_object()) {
      throw_invalid(at + " must be an object {\"name\", \"path\", \"base_model\"}");
    }
    for (auto it = e.begin(); it != e.end(); ++it) {
      if (std::find(fields.begin(), fields.end(), it.key()) == fields.end()) {
        throw_invalid(at + ": unknown key '" + it.key() + "'" + did_you_mean(it.key(), fields) +
                      " (keys: name, path, base_model)");
      }
      if (!it.value().is_string()) throw_invalid(at + ": '" + it.key() + "' must be a string");
    }
    ModelEntry m{e.value("name", ""), e.value("path", ""), e.value("base_model", "")};
    if (!valid_name(m.name)) {
      throw_invalid(at +
                    ": 'name' must be a folder name of letters, digits, '.', '_' and '-', not "
                    "ending in .json/.jsonl/.md/.html, got '" +
                    m.name + "'");
    }
    if (!seen.insert(m.name).second) throw_invalid(at + ": duplicate name '" + m.name + "'");
    if (m.path.empty() && !dummy) {
      throw_invalid(at + " ('" + m.name +
                    "'): 'path' is required (only dummy runs may omit it "
                    "to use the bundled model)");
    }
    out.push_back(std::move(m));
  }
  if (list.empty()) throw_invalid(origin + ": the list is empty");
  return out;
}

std::string baseline_of(const ResolvedConfig& cfg, const std::vector<ModelEntry>& models) {
  std::string b = cfg.get_string("baseline");
  if (models.empty()) {
    if (!b.empty()) {
      throw_invalid("baseline (from " + cfg.origin("baseline") + ") needs `models`");
    }
    return b;
  }
  if (b.empty()) return models.back().name;
  std::vector<std::string> names;
  for (const auto& m : models) {
    if (m.name == b) return b;
    names.push_back(m.name);
  }
  throw_invalid("baseline (from " + cfg.origin("baseline") + "): no model '" + b + "'" +
                did_you_mean(b, names));
}

}  // namespace assay::eval
