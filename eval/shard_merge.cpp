#include "eval/shard_merge.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/jsonl.h"

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string label(const ShardFolder& s) {
  return s.dir.string();
}

json read_json(const fs::path& file) {
  try {
    return json::parse(read_file(file));
  } catch (const json::exception& e) {
    throw_invalid(file.string() + ": not valid JSON: " + e.what());
  }
}

ShardFolder open_shard(const fs::path& dir) {
  ShardFolder s;
  s.dir = dir;
  s.manifest = read_json(dir / "manifest.json");
  const json& m = s.manifest;
  if (!m.is_object() || m.value("command", "") != "run") {
    throw_invalid(dir.string() +
                  ": not an `evaluate run` folder (manifest.json command is not run)");
  }
  if (m.value("status", "") != "completed") {
    throw_invalid(dir.string() + ": the shard is not completed (status " +
                  m.value("status", std::string("?")) + "); rerun it to finish it first");
  }
  if (m.contains("shard")) {
    const json& sh = m["shard"];
    if (!sh.is_object() || !sh.value("index", json()).is_number_integer() ||
        !sh.value("count", json()).is_number_integer()) {
      throw_invalid(dir.string() +
                    "/manifest.json: `shard` must be {\"index\": int, \"count\": int}");
    }
    s.spec = {sh["index"].get<int>(), sh["count"].get<int>()};
    if (s.spec.count < 1 || s.spec.index < 0 || s.spec.index >= s.spec.count) {
      throw_invalid(dir.string() + "/manifest.json: `shard` index/count out of range");
    }
  }
  if (auto named = parse_shard_dir_name(dir.filename().string()); named && *named != s.spec) {
    throw_invalid(dir.string() + ": the folder name says " + shard_dir_name(*named) +
                  " but manifest.json says " + shard_dir_name(s.spec));
  }
  s.summary = read_json(dir / "summary.json");
  return s;
}

// The shard folders named by the arguments: a folder with manifest.json is a shard; a folder
// without one contributes its shard-<i>-of-<n> sub-folders.
std::vector<ShardFolder> find_shards(const std::vector<fs::path>& inputs) {
  std::vector<ShardFolder> shards;
  std::error_code ec;
  for (const auto& in : inputs) {
    if (!fs::is_directory(in, ec)) throw_not_found(in.string() + ": no such folder");
    if (fs::exists(in / "manifest.json", ec)) {
      shards.push_back(open_shard(in));
      continue;
    }
    std::vector<fs::path> subs;
    for (const auto& e : fs::directory_iterator(in, ec)) {
      if (e.is_directory(ec) && parse_shard_dir_name(e.path().filename().string())) {
        subs.push_back(e.path());
      }
    }
    if (subs.empty()) {
      throw_invalid(in.string() +
                    ": neither a shard folder (no manifest.json) nor a folder of shard-<i>-of-<n> "
                    "folders");
    }
    std::sort(subs.begin(), subs.end());
    for (const auto& sub : subs) shards.push_back(open_shard(sub));
  }
  if (shards.empty()) throw_invalid("evaluate merge: no shard folders given");
  return shards;
}

// Every shard of one run, each once, all alike; sorted by index.
void check_shards(std::vector<ShardFolder>& shards) {
  const ShardFolder& first = shards[0];
  const int n = first.spec.count;
  for (const auto& s : shards) {
    if (s.spec.count != n) {
      throw_invalid("the shards come from different splits: " + label(first) + " is one of " +
                    std::to_string(n) + ", " + label(s) + " one of " +
                    std::to_string(s.spec.count));
    }
    for (const char* key : {"config_hash"}) {
      if (s.manifest.value(key, json()) != first.manifest.value(key, json())) {
        auto changed = ResolvedConfig::changed_keys(first.manifest.value("config", json::object()),
                                                    s.manifest.value("config", json::object()));
        std::string keys;
        for (const auto& k : changed) keys += (keys.empty() ? "" : ", ") + k;
        throw_invalid(label(s) + " was run with a different config than " + label(first) +
                      (keys.empty() ? std::string() : " (changed: " + keys + ")"));
      }
    }
    const json& a = first.manifest.value("inputs", json::object());
    const json& b = s.manifest.value("inputs", json::object());
    if (a.value("model_fingerprint", json()) != b.value("model_fingerprint", json())) {
      throw_invalid(label(s) + " evaluated a different model than " + label(first) +
                    " (model fingerprints differ)");
    }
    if (a.value("dataset_sha256", json()) != b.value("dataset_sha256", json())) {
      throw_invalid(label(s) + " ran on a different dataset than " + label(first) +
                    " (dataset SHA-256 differs)");
    }
  }
  std::sort(shards.begin(), shards.end(),
            [](const ShardFolder& x, const ShardFolder& y) { return x.spec.index < y.spec.index; });
  for (size_t k = 1; k < shards.size(); ++k) {
    if (shards[k].spec.index == shards[k - 1].spec.index) {
      throw_invalid("shard " + shard_dir_name(shards[k].spec) +
                    " given twice: " + label(shards[k - 1]) + " and " + label(shards[k]));
    }
  }
  std::string missing;
  for (int i = 0, k = 0; i < n; ++i) {
    if (k < static_cast<int>(shards.size()) && shards[k].spec.index == i) {
      ++k;
    } else {
      missing += (missing.empty() ? "" : ", ") + shard_dir_name({i, n});
    }
  }
  if (!missing.empty()) throw_invalid("missing shards: " + missing);
}

// The run's config, rebuilt from a manifest's resolved (redacted) config.
ResolvedConfig config_of(const json& manifest_config) {
  ConfigSources sources;
  sources.getenv = [](const std::string&) { return std::optional<std::string>(); };
  for (const auto& key : config_keys()) {
    std::string ptr = "/" + key.path;
    std::replace(ptr.begin(), ptr.end(), '.', '/');
    json::json_pointer jp(ptr);
    if (manifest_config.contains(jp)) sources.flags.emplace_back(key.path, manifest_config.at(jp));
  }
  return resolve_config(sources);
}

// One judgment back from its scores.jsonl fields, for the rubric's summary.
judges::Judgment judgment_of(const json& line, const judges::Rubric& rubric) {
  judges::Judgment j;
  if (line.contains("judge_error")) {
    const json& e = line["judge_error"];
    j.error =
        judges::JudgeError{e.value("reason", ""), e.value("kind", ""), e.value("attempts", 0)};
    return j;
  }
  const json& js = line.value("judges", json::object());
  j.ok = true;
  if (rubric.kind == judges::RubricKind::kPairwise) {
    const json& p = js.value("pairwise", json::object());
    j.outcome = p.value("outcome", "");
    j.verdict_ab = p.value("verdict_ab", std::string(" "))[0];
    j.verdict_ba = p.value("verdict_ba", std::string(" "))[0];
  }
  for (const auto& c : rubric.criteria) {
    const json& score = js.value(c.name, json::object()).value("score", json());
    if (!score.is_number()) {
      throw_invalid("scores.jsonl: sample '" + line.value("id", std::string("?")) +
                    "' has no score for judge criterion '" + c.name + "'");
    }
    j.scores.push_back({c.name, score.get<double>(), ""});
  }
  // judge.repeats: each repeat's scores (criteria) or outcomes (pairwise).
  if (rubric.kind == judges::RubricKind::kPairwise) {
    for (const auto& o :
         js.value("pairwise", json::object()).value("repeat_outcomes", json::array()))
      j.repeat_outcomes.push_back(o.get<std::string>());
  } else if (!rubric.criteria.empty()) {
    const json& first = js.value(rubric.criteria.front().name, json::object());
    const size_t repeats = first.value("repeats", json::array()).size();
    for (size_t r = 0; r < repeats; ++r) {
      std::vector<judges::CriterionScore> scores;
      for (const auto& c : rubric.criteria) {
        const json& reps = js.value(c.name, json::object()).value("repeats", json::array());
        if (r >= reps.size() || !reps[r].is_number()) {
          throw_invalid("scores.jsonl: sample '" + line.value("id", std::string("?")) +
                        "' has no repeat " + std::to_string(r) + " for judge criterion '" + c.name +
                        "'");
        }
        scores.push_back({c.name, reps[r].get<double>(), ""});
      }
      j.repeat_scores.push_back(std::move(scores));
    }
  }
  return j;
}

// The judge rubric's shape (criteria with their ranges, or pairwise) from a shard summary.
judges::Rubric rubric_of(const json& judges_summary) {
  judges::Rubric r;
  if (judges_summary.contains("pairwise") &&
      judges_summary["pairwise"].value("distribution", json::object()).contains("win")) {
    r.kind = judges::RubricKind::kPairwise;
    return r;
  }
  for (auto it = judges_summary.begin(); it != judges_summary.end(); ++it) {
    r.criteria.push_back({it.key(), it.value().value("min", 1), it.value().value("max", 3)});
  }
  return r;
}

json sum_usage(const std::vector<ShardFolder>& shards) {
  json total;
  for (const auto& s : shards) {
    if (!s.summary.contains("judge_usage")) continue;
    const json& u = s.summary["judge_usage"];
    if (total.is_null()) {
      total = u;
      continue;
    }
    for (const char* k : {"calls", "cache_hits", "retries", "prompt_tokens", "completion_tokens"}) {
      total[k] = total.value(k, 0LL) + u.value(k, 0LL);
    }
    if (total["cost_usd"].is_number() && u.value("cost_usd", json()).is_number()) {
      total["cost_usd"] = total["cost_usd"].get<double>() + u["cost_usd"].get<double>();
    } else {
      total["cost_usd"] = nullptr;
    }
  }
  return total;
}

}  // namespace

ShardSet read_shards(const std::vector<fs::path>& inputs) {
  ShardSet set;
  set.shards = find_shards(inputs);
  check_shards(set.shards);
  set.count = set.shards[0].spec.count;
  set.config = config_of(set.first_manifest().value("config", json::object()));
  set.settings = run_settings_from(set.config);
  return set;
}

Dataset merged_dataset(const ShardSet& set, const fs::path& path) {
  const json& first = set.first_manifest();
  std::string dataset_path = path.string();
  if (dataset_path.empty()) dataset_path = first.value("dataset", json::object()).value("path", "");
  if (dataset_path.empty()) {
    throw_invalid(set.shards[0].dir.string() + "/manifest.json names no dataset; pass --dataset");
  }
  DatasetNeeds needs;
  needs.instruction = true;
  needs.reference = false;
  Dataset ds = load_dataset(dataset_path, set.settings.fields, needs);
  const json& inputs = first.value("inputs", json::object());
  if (ds.sha256 != inputs.value("dataset_sha256", "")) {
    throw_invalid(dataset_path + ": not the dataset the shards ran on (SHA-256 " + ds.sha256 +
                  ", the shards': " + inputs.value("dataset_sha256", std::string("?")) +
                  "); pass the right one with --dataset");
  }
  const auto n_dummy = static_cast<size_t>(set.settings.generation.dummy_samples);
  if (set.settings.dummy && ds.samples.size() > n_dummy) ds.samples.resize(n_dummy);
  return ds;
}

ShardResults collect_results(const ShardSet& set, const Dataset& ds) {
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < ds.samples.size(); ++i) position[ds.samples[i].id] = i;
  ShardResults out;
  out.generations.resize(ds.samples.size());
  out.score_lines.resize(ds.samples.size());
  out.owner.resize(ds.samples.size());
  for (const auto& s : set.shards) {
    for (const char* file : {"generations.jsonl", "scores.jsonl"}) {
      const bool is_gen = std::string(file) == "generations.jsonl";
      fs::path path = s.dir / file;
      for (auto& r : read_jsonl(path, TornTail::kError).records) {
        std::string where = path.string() + ":" + std::to_string(r.line);
        if (!r.value.is_object() || !r.value.value("id", json()).is_string()) {
          throw_invalid(where + ": a record without a string `id`");
        }
        std::string id = r.value["id"].get<std::string>();
        auto it = position.find(id);
        if (it == position.end())
          throw_invalid(where + ": sample '" + id + "' is not in " + ds.path);
        if (!in_shard(id, s.spec)) {
          throw_invalid(where + ": sample '" + id + "' does not belong to " +
                        shard_dir_name(s.spec));
        }
        json& slot = is_gen ? out.generations[it->second] : out.score_lines[it->second];
        if (!slot.is_null()) {
          throw_invalid(where + ": sample '" + id + "' appears twice (also in " +
                        out.owner[it->second] + ")");
        }
        if (is_gen && !r.value.value("output", json()).is_string()) {
          throw_invalid(where + ": sample '" + id + "' has no string `output`");
        }
        slot = std::move(r.value);
        out.owner[it->second] = s.dir.string();
      }
    }
  }
  size_t n_missing = 0;
  std::string example;
  for (size_t i = 0; i < ds.samples.size(); ++i) {
    if (out.generations[i].is_null() || out.score_lines[i].is_null()) {
      if (n_missing++ == 0) example = ds.samples[i].id;
    }
  }
  if (n_missing > 0) {
    throw_invalid(std::to_string(n_missing) + " of " + std::to_string(ds.samples.size()) +
                  " samples have no result in the shards (e.g. '" + example + "')");
  }
  return out;
}

RunIdentity merged_identity(const ShardSet& set, const Dataset& ds) {
  const json& first = set.first_manifest();
  const json& inputs = first.value("inputs", json::object());
  return {"merge",
          first.value("config_hash", ""),
          {{"dataset_sha256", ds.sha256},
           {"model_fingerprint", inputs.value("model_fingerprint", "")},
           {"shards", set.count}}};
}

json merged_manifest_fields(const ShardSet& set, const Dataset& ds) {
  json merged_from = json::array();
  for (const auto& s : set.shards) {
    merged_from.push_back(
        {{"path", fs::absolute(s.dir).string()},
         {"shard", shard_dir_name(s.spec)},
         {"host", s.manifest.value("container", json::object()).value("current_host", json())}});
  }
  return {{"dataset", {{"path", ds.path}, {"sha256", ds.sha256}, {"n_samples", ds.samples.size()}}},
          {"model", set.first_manifest().value("model", json())},
          {"merged_from", merged_from}};
}

void write_merged_generations(RunState& state, const ShardSet& set, const ShardResults& results) {
  std::string gen_text;
  size_t prompt_tokens = 0, completion_tokens = 0, resumed = 0;
  json finish_reasons = json::object();
  for (size_t i = 0; i < state.ds.samples.size(); ++i) {
    const json& g = results.generations[i];
    state.ds.samples[i].prediction = g["output"].get<std::string>();
    prompt_tokens += g.value("prompt_tokens", size_t{0});
    completion_tokens += g.value("completion_tokens", size_t{0});
    std::string fr = g.value("finish_reason", std::string("unknown"));
    finish_reasons[fr] = finish_reasons.value(fr, 0) + 1;
    gen_text += to_jsonl_line(g) + "\n";
    state.generations[state.ds.samples[i].id] = g;
  }
  for (const auto& s : set.shards) {
    resumed += s.summary.value("generation", json::object()).value("resumed", size_t{0});
  }
  atomic_write(state.folder->file("generations.jsonl"), gen_text);
  state.summary_extra["generation"] = {{"prompt_tokens", prompt_tokens},
                                       {"completion_tokens", completion_tokens},
                                       {"finish_reasons", finish_reasons},
                                       {"resumed", resumed}};
}

std::optional<JudgeStageOutput> merged_judgments(const RunState& state, const ShardSet& set,
                                                 const ShardResults& results,
                                                 const scoring::BootstrapDraws& draws) {
  const ShardFolder* judged_shard = nullptr;
  for (const auto& s : set.shards) {
    if (s.summary.contains("judges")) judged_shard = &s;
  }
  if (judged_shard == nullptr) return std::nullopt;
  judges::Rubric rubric = rubric_of(judged_shard->summary["judges"]);
  std::vector<judges::Judgment> judgments;
  std::vector<std::vector<judges::Judgment>> by_judge;  // several judges, in `names` order
  std::vector<std::string> names;
  JudgeStageOutput judged;
  for (const auto& line : results.score_lines) {
    if (!line.contains("judges") && !line.contains("judge_error")) {
      throw_invalid(results.owner[judgments.size()] + "/scores.jsonl: sample '" +
                    line.value("id", std::string("?")) + "' has no judge result");
    }
    judgments.push_back(judgment_of(line, rubric));
    json entry = json::object();
    for (const char* k : {"judges", "judge_error", "judges_by_name"}) {
      if (line.contains(k)) entry[k] = line[k];
    }
    // Several judges: each one's judgment, as the shard wrote it (scores or a judge_error).
    const json& by_name = line.value("judges_by_name", json::object());
    if (!by_name.empty() && names.empty()) {
      for (auto it = by_name.begin(); it != by_name.end(); ++it) names.push_back(it.key());
      by_judge.resize(names.size());
    }
    for (size_t k = 0; k < names.size(); ++k) {
      if (!by_name.contains(names[k])) {
        throw_invalid(results.owner[judgments.size() - 1] + "/scores.jsonl: sample '" +
                      line.value("id", std::string("?")) + "' has no judgment of judge '" +
                      names[k] + "'");
      }
      const json& e = by_name[names[k]];
      by_judge[k].push_back(
          judgment_of(e.contains("judge_error") ? e : json{{"judges", e}}, rubric));
    }
    judged.per_sample.push_back(std::move(entry));
  }
  for (const auto& js : by_judge) {
    if (js.size() != judgments.size()) {
      throw_invalid("scores.jsonl: the shards do not all have the same judges (judges_by_name)");
    }
  }
  judged.judges = summarize_judgments(rubric, judgments, draws);
  judged.judge_usage = sum_usage(set.shards);
  const std::vector<judges::JudgeItem> items = judge_items(state.settings, state.ds, rubric);
  add_reliability_sections(state.settings, rubric, items, judgments, by_judge, names, draws,
                           judged);
  return judged;
}

namespace {

// Appends the entries of `file` whose key is not in `seen` to `text`; a missing file adds none.
void add_cache_entries(const fs::path& file, std::set<std::string>& seen, std::string& text) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  for (auto& r : read_jsonl(file, TornTail::kDrop).records) {
    if (!r.value.is_object() || !r.value.value("key", json()).is_string()) {
      throw_invalid(file.string() + ":" + std::to_string(r.line) +
                    ": judge cache entry has no \"key\" string");
    }
    if (seen.insert(r.value["key"].get<std::string>()).second) {
      text += to_jsonl_line(r.value) + "\n";
    }
  }
}

}  // namespace

size_t merge_judge_caches(const ShardSet& set, const fs::path& out_file) {
  std::set<std::string> seen;
  std::string text;
  add_cache_entries(out_file, seen, text);
  for (const auto& s : set.shards) add_cache_entries(s.dir / "judge_cache.jsonl", seen, text);
  if (!seen.empty()) atomic_write(out_file, text);
  return seen.size();
}

}  // namespace assay::eval
