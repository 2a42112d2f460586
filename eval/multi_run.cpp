#include "eval/multi_run.h"

#include <optional>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/suggest.h"
#include "eval/compare_command.h"
#include "eval/container.h"
#include "eval/gates.h"
#include "eval/report.h"
#include "eval/run_folder.h"
#include "eval/run_settings.h"
#include "eval/shard.h"
#include "judges/rubric.h"
#include "scoring/scorer.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kMultiSummarySchema = 1;

bool valid_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 100) return false;
  // Not one of the parent folder's own files (summary.json, compare.json, report.md, ...).
  for (const char* ext : {".json", ".jsonl", ".md", ".html"}) {
    if (name.ends_with(ext)) return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
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
    if (column == "sentence_bleu") ctx.corpus.insert("bleu");
    if (column == "chrf" || column == "chrf_pp" || column == "ter") ctx.corpus.insert(column);
  }
  if (!settings.judge.provider.empty()) {
    judges::Rubric rubric = judges::load_rubric(settings.judge.rubric);
    ctx.judge_criteria.emplace();
    if (rubric.kind == judges::RubricKind::kPairwise) ctx.judge_criteria->insert("pairwise");
    for (const auto& c : rubric.criteria) ctx.judge_criteria->insert(c.name);
  }
  for (const auto& m : models) ctx.models.insert(m.name);
  ctx.has_compare = models.size() >= 2;
  return ctx;
}

// A compact view of a model's summary.json for the parent's summary.
json headline(const json& summary) {
  json out = {{"n_samples", summary.value("n_samples", 0)}};
  auto means = [&](const char* section, const char* field) {
    json m = json::object();
    if (summary.contains(section) && summary[section].is_object()) {
      for (auto it = summary[section].begin(); it != summary[section].end(); ++it) {
        m[it.key()] = it.value().value(field, json());
      }
    }
    return m;
  };
  out["metrics"] = means("metrics", "mean");
  if (summary.contains("judges")) out["judges"] = means("judges", "mean");
  if (summary.contains("corpus")) out["corpus"] = means("corpus", "score");
  return out;
}

int run_several(const RunCommandOptions& options, const ResolvedConfig& cfg,
                const RunSettings& settings, const std::vector<ModelEntry>& models,
                const std::vector<Gate>& gates, std::ostream& out) {
  if (settings.output.empty()) {
    throw_invalid("no output folder: pass --output, set OUTPUT_DIR, or set `output` in the config");
  }
  if (!settings.model.empty()) {
    throw_invalid("both `model` (from " + cfg.origin("model") + ") and `models` (from " +
                  cfg.origin("models") + ") are set; use one");
  }
  const std::string baseline = baseline_of(cfg, models);
  json models_json = json::array();
  for (const auto& m : models) {
    models_json.push_back({{"name", m.name}, {"path", m.path}, {"base_model", m.base_model}});
  }
  RunIdentity identity{
      "run",
      sha256_hex(cfg.identity_hash() + "\n" + models_json.dump() + "\n" + baseline),
      {{"models", models_json}, {"baseline", baseline}}};
  const fs::path parent = settings.output;
  RunFolder folder(parent, identity, cfg.redacted(), options.overwrite);
  std::vector<std::string> order;  // non-baseline models, in config order
  for (const auto& m : models) {
    if (m.name != baseline) order.push_back(m.name);
  }
  auto compare_file = [&](const std::string& a) {
    return "compare-" + a + "-vs-" + baseline + ".json";
  };
  if (folder.state() == RunState::kCompleted) {
    out << "Already completed with the same config and models; nothing to do: " << parent.string()
        << "\n";
    for (const auto& a : order)
      print_comparison(json::parse(read_file(parent / compare_file(a))), out);
    return report_gates(evaluate_gates(gates, parent), out);
  }
  folder.mark_running();
  try {
    folder.update({{"kind", "multi"}, {"models", models_json}, {"baseline", baseline}});
    for (size_t i = 0; i < models.size(); ++i) {
      const ModelEntry& m = models[i];
      out << "\n== model " << m.name << " (" << i + 1 << "/" << models.size() << ") ==\n";
      log::info("evaluating model",
                {{"name", m.name}, {"index", i + 1}, {"models", models.size()}, {"path", m.path}});
      RunCommandOptions sub = options;
      auto& flags = sub.sources.flags;
      flags.emplace_back("models", json::array());  // the sub-run is a single-model run
      flags.emplace_back("output", (parent / m.name).string());
      if (!m.path.empty()) flags.emplace_back("model", m.path);
      if (!m.base_model.empty()) flags.emplace_back("base_model", m.base_model);
      int rc = run_run_command(sub, out);
      if (rc != kExitOk) {
        folder.mark_interrupted();
        return rc;
      }
    }

    json comparisons = json::array();
    for (size_t k = 0; k < order.size(); ++k) {
      CompareOptions co;
      co.run_a = parent / order[k];
      co.run_b = parent / baseline;
      co.name_a = order[k];
      co.name_b = baseline;
      co.bootstrap = settings.bootstrap;
      json c = compare_runs(co);
      std::string text = c.dump(2) + "\n";
      atomic_write(parent / compare_file(order[k]), text);
      if (k == 0) atomic_write(parent / "compare.json", text);
      comparisons.push_back({{"a", order[k]}, {"b", baseline}, {"file", compare_file(order[k])}});
      print_comparison(c, out);
    }
    json entries = json::array();
    for (const auto& m : models) {
      json e = {{"name", m.name}, {"path", m.path}, {"dir", m.name}};
      if (!m.base_model.empty()) e["base_model"] = m.base_model;
      e.update(headline(json::parse(read_file(parent / m.name / "summary.json"))));
      entries.push_back(e);
    }
    json summary = {{"schema_version", kMultiSummarySchema},
                    {"kind", "multi"},
                    {"command", "run"},
                    {"baseline", baseline},
                    {"primary", order.empty() ? baseline : order.front()},
                    {"models", entries},
                    {"comparisons", comparisons}};
    atomic_write(parent / "summary.json", summary.dump(2) + "\n");
    try {  // derived files: a failure is worth a warning, not the run
      write_reports(parent);
    } catch (const std::exception& e) {
      log::warn("could not write report.md / report.html", {{"error", e.what()}});
    }
    folder.mark_completed();
    out << "\nEvaluated " << models.size() << " models -> " << parent.string() << "\n";
  } catch (const std::exception& e) {
    folder.mark_failed(e.what());
    throw;
  }
  return report_gates(evaluate_gates(gates, parent), out);
}

}  // namespace

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
    ModelEntry m;
    m.name = e.value("name", "");
    m.path = e.value("path", "");
    m.base_model = e.value("base_model", "");
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

int run_evaluation(const RunCommandOptions& options, std::ostream& out) {
  // Resolve the config the way the run will see it: in a SageMaker container the config
  // channel, hyperparameters and the result folder come from the layout.
  ContainerLayout container = detect_container(options.container);
  ConfigSources sources = options.sources;
  ShardSpec shard;
  std::vector<ModelEntry> models;
  std::vector<Gate> gates;
  RunSettings settings;
  std::optional<ResolvedConfig> resolved;
  try {
    read_container_inputs(container, sources);
    shard =
        options.shard.empty() ? container.shard.value_or(ShardSpec{}) : parse_shard(options.shard);
    resolved.emplace(resolve_config(sources));
    settings = run_settings_from(*resolved);
    models = models_from_config(*resolved);
    baseline_of(*resolved, models);  // validated before any work
    gates = gates_from_config(*resolved);
    validate_gates(gates, gate_context(settings, models));
    if (!models.empty() && shard.count > 1) {
      throw_invalid("`models` (from " + resolved->origin("models") +
                    ") cannot be combined with sharding (" + std::to_string(shard.count) +
                    " shards): run one model per job, or one host");
    }
  } catch (const Error& e) {
    write_failure_reason(container, std::string(error_kind_name(e.kind())) + ": " + e.what());
    throw;
  }
  if (models.empty()) {
    int rc = run_run_command(options, out);
    if (rc != kExitOk) return rc;
    if (shard.count > 1) {
      if (!gates.empty())
        log::info("gates are checked on the merged run (evaluate merge, then evaluate gate)");
      return kExitOk;
    }
    return report_gates(evaluate_gates(gates, settings.output), out);
  }
  RunCommandOptions several = options;
  several.sources = sources;
  several.container.contract = "none";  // the layout is already read into `sources`
  try {
    return run_several(several, *resolved, settings, models, gates, out);
  } catch (const Error& e) {
    write_failure_reason(container, std::string(error_kind_name(e.kind())) + ": " + e.what());
    throw;
  }
}

}  // namespace assay::eval
