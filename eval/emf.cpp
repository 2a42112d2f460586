#include "eval/emf.h"

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kMaxMetricsPerDirective = 100;  // EMF: a directive holds at most 100 metrics
constexpr size_t kMaxNameLength = 255;           // EMF: metric names are 1-255 characters

struct Value {
  std::string name;
  double value;
  const char* unit;
};

void add(std::vector<Value>& out, std::string name, const json& obj, const char* key,
         const char* unit) {
  if (!obj.is_object() || name.empty() || name.size() > kMaxNameLength) return;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return;
  double v = it->get<double>();
  if (std::isfinite(v)) out.push_back({std::move(name), v, unit});
}

const json& member(const json& obj, const char* key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

}  // namespace

std::vector<json> emf_records(const json& summary, const EmfOptions& options) {
  std::vector<std::pair<std::string, std::vector<Value>>> groups(4);
  groups[0].first = "metrics";
  for (const auto& [k, m] : member(summary, "metrics").items())
    add(groups[0].second, k, m, "mean", "None");
  groups[1].first = "corpus";
  for (const auto& [k, m] : member(summary, "corpus").items()) {
    add(groups[1].second, "corpus." + k, m, "score", "None");
  }
  groups[2].first = "judges";
  for (const auto& [k, m] : member(summary, "judges").items()) {
    add(groups[2].second, "judge." + k, m, "mean", "None");
    add(groups[2].second, "judge." + k + ".n_errors", m, "n_errors", "Count");
  }
  groups[3].first = "run";
  add(groups[3].second, "n_samples", summary, "n_samples", "Count");
  const json& gen = member(summary, "generation");
  add(groups[3].second, "prompt_tokens", gen, "prompt_tokens", "Count");
  add(groups[3].second, "completion_tokens", gen, "completion_tokens", "Count");
  const json& usage = member(summary, "judge_usage");
  add(groups[3].second, "judge_calls", usage, "calls", "Count");
  add(groups[3].second, "judge_cache_hits", usage, "cache_hits", "Count");
  add(groups[3].second, "judge_retries", usage, "retries", "Count");
  add(groups[3].second, "judge_cost_usd", usage, "cost_usd", "None");

  const std::string model = options.model.empty() ? "unknown" : options.model;
  const std::string run = options.run.empty() ? "unknown" : options.run;
  std::vector<json> records;
  for (const auto& [group, values] : groups) {
    for (size_t start = 0; start < values.size(); start += kMaxMetricsPerDirective) {
      size_t end = std::min(values.size(), start + kMaxMetricsPerDirective);
      json metrics = json::array();
      json record = json::object();
      for (size_t i = start; i < end; ++i) {
        metrics.push_back({{"Name", values[i].name}, {"Unit", values[i].unit}});
        record[values[i].name] = values[i].value;
      }
      record["_aws"] = {{"Timestamp", options.timestamp_ms},
                        {"CloudWatchMetrics",
                         json::array({{{"Namespace", options.name_space},
                                       {"Dimensions", json::array({{"Model", "Run"}, {"Model"}})},
                                       {"Metrics", metrics}}})}};
      record["Model"] = model;
      record["Run"] = run;
      record["MetricGroup"] = group;
      records.push_back(std::move(record));
    }
  }
  return records;
}

bool emf_enabled() {
  std::string v = env("ASSAY_EMF");
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  if (!v.empty()) {
    log::warn("ASSAY_EMF must be 1, true, 0 or false; EMF metrics are off", {{"ASSAY_EMF", v}});
    return false;
  }
  std::error_code ec;
  return fs::is_directory("/opt/ml", ec);
}

EmfOptions emf_options_for(const fs::path& run_dir, const json& manifest) {
  EmfOptions o;
  if (std::string ns = env("ASSAY_EMF_NAMESPACE"); !ns.empty()) o.name_space = ns;
  o.model = env("ASSAY_EMF_MODEL");
  if (o.model.empty()) {
    const json& path = member(member(manifest, "model"), "path");
    if (path.is_string()) {
      fs::path p = fs::path(path.get<std::string>()).lexically_normal();
      if (p.filename().empty()) p = p.parent_path();
      std::string name = p.filename().string();
      for (const char* ext : {".tar.gz", ".tgz"}) {
        std::string e = ext;
        if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
          name.resize(name.size() - e.size());
        }
      }
      o.model = name;
    }
  }
  o.run = env("ASSAY_EMF_RUN");
  if (o.run.empty()) {
    std::string root = env("SM_ROOT");
    fs::path cfg =
        fs::path(root.empty() ? "/opt/ml" : root) / "config" / "processingjobconfig.json";
    std::error_code ec;
    if (fs::is_regular_file(cfg, ec)) {
      json j = json::parse(read_file(cfg), nullptr, /*allow_exceptions=*/false);
      const json& name = member(j, "ProcessingJobName");
      if (name.is_string()) o.run = name.get<std::string>();
    }
  }
  if (o.run.empty()) {
    std::error_code ec;
    o.run = fs::weakly_canonical(run_dir, ec).filename().string();
    if (o.run.empty()) o.run = run_dir.filename().string();
  }
  o.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return o;
}

void emit_emf_if_enabled(const fs::path& run_dir, std::ostream& out) {
  if (!emf_enabled()) return;
  json summary = json::parse(read_file(run_dir / "summary.json"), nullptr, false);
  if (!summary.is_object())
    throw_invalid((run_dir / "summary.json").string() + ": not a JSON object");
  json manifest;
  std::error_code ec;
  if (fs::exists(run_dir / "manifest.json", ec)) {
    manifest = json::parse(read_file(run_dir / "manifest.json"), nullptr, false);
  }
  for (const auto& r : emf_records(summary, emf_options_for(run_dir, manifest))) {
    out << r.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  }
  out.flush();
}

}  // namespace assay::eval
