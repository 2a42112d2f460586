#include "eval/multi_model.h"

#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "eval/compare.h"
#include "eval/report.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr int kMultiSummarySchema = 1;

json models_json(const RunPlan& plan) {
  json out = json::array();
  for (const auto& m : plan.entries) {
    out.push_back({{"name", m.name}, {"path", m.path}, {"base_model", m.base_model}});
  }
  return out;
}

// Non-baseline models, in config order.
std::vector<std::string> compared(const RunPlan& plan) {
  std::vector<std::string> order;
  for (const auto& m : plan.entries) {
    if (m.name != plan.baseline) order.push_back(m.name);
  }
  return order;
}

std::string compare_file(const RunPlan& plan, const std::string& a) {
  return "compare-" + a + "-vs-" + plan.baseline + ".json";
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

}  // namespace

RunIdentity multi_run_identity(const RunPlan& plan) {
  json models = models_json(plan);
  return {"run",
          sha256_hex(plan.config.identity_hash() + "\n" + models.dump() + "\n" + plan.baseline),
          {{"models", models}, {"baseline", plan.baseline}}};
}

void record_models(const RunPlan& plan, RunFolder& folder) {
  folder.update({{"kind", "multi"}, {"models", models_json(plan)}, {"baseline", plan.baseline}});
}

void summarize_models(const RunPlan& plan, std::ostream& out) {
  const fs::path& parent = plan.output;
  const std::vector<std::string> order = compared(plan);
  json comparisons = json::array();
  for (size_t k = 0; k < order.size(); ++k) {
    CompareOptions co;
    co.run_a = parent / order[k];
    co.run_b = parent / plan.baseline;
    co.name_a = order[k];
    co.name_b = plan.baseline;
    co.bootstrap = plan.settings.bootstrap;
    json c = compare_runs(co);
    std::string text = c.dump(2) + "\n";
    atomic_write(parent / compare_file(plan, order[k]), text);
    if (k == 0) atomic_write(parent / "compare.json", text);
    comparisons.push_back(
        {{"a", order[k]}, {"b", plan.baseline}, {"file", compare_file(plan, order[k])}});
    print_comparison(c, out);
  }
  json entries = json::array();
  for (const auto& m : plan.entries) {
    json e = {{"name", m.name}, {"path", m.path}, {"dir", m.name}};
    if (!m.base_model.empty()) e["base_model"] = m.base_model;
    e.update(headline(json::parse(read_file(parent / m.name / "summary.json"))));
    entries.push_back(e);
  }
  json summary = {{"schema_version", kMultiSummarySchema},
                  {"kind", "multi"},
                  {"command", "run"},
                  {"baseline", plan.baseline},
                  {"primary", order.empty() ? plan.baseline : order.front()},
                  {"models", entries},
                  {"comparisons", comparisons}};
  atomic_write(parent / "summary.json", summary.dump(2) + "\n");
  try {  // derived files: a failure is worth a warning, not the run
    write_reports(parent);
  } catch (const std::exception& e) {
    log::warn("could not write report.md / report.html", {{"error", e.what()}});
  }
}

void print_model_comparisons(const RunPlan& plan, std::ostream& out) {
  for (const auto& a : compared(plan)) {
    print_comparison(json::parse(read_file(plan.output / compare_file(plan, a))), out);
  }
}

}  // namespace assay::eval
