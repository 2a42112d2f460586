// The pieces of `evaluate merge` (eval/commands/merge.h): the shard folders of a sharded
// `evaluate run` (shard.h) checked to form one run, and their results combined in dataset order,
// as if one host had evaluated the whole dataset.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/config.h"
#include "eval/dataset.h"
#include "eval/judge_stage.h"
#include "eval/run_folder.h"
#include "eval/run_settings.h"
#include "eval/run_state.h"
#include "eval/shard.h"

namespace assay::eval {

struct ShardFolder {
  std::filesystem::path dir;
  ShardSpec spec;
  nlohmann::json manifest;
  nlohmann::json summary;
};

// Every shard of one run, each once, sorted by index, with the run's config.
struct ShardSet {
  std::vector<ShardFolder> shards;
  int count = 1;          // shards in the split
  ResolvedConfig config;  // the run's config, rebuilt from the first manifest
  RunSettings settings;
  const nlohmann::json& first_manifest() const { return shards.front().manifest; }
};

// Opens the folders named by `inputs` (a shard folder, or a folder of shard-<i>-of-<n> folders)
// and checks that they form one completed run. Throws assay::Error (invalid input / not found):
// a shard not completed, different shard counts, a missing or repeated index, different config
// hashes, model fingerprints or datasets.
ShardSet read_shards(const std::vector<std::filesystem::path>& inputs);

// The dataset the shards ran on (`path`, or the one their manifest names), checked by SHA-256,
// cut as a dummy run cuts it. Throws assay::Error (invalid input).
Dataset merged_dataset(const ShardSet& set, const std::filesystem::path& path);

// Each sample's generation and scores.jsonl line, from the one shard it belongs to.
struct ShardResults {
  std::vector<nlohmann::json> generations;  // dataset order
  std::vector<nlohmann::json> score_lines;  // dataset order
  std::vector<std::string> owner;           // the shard folder of each sample
};

// Reads every shard's generations.jsonl and scores.jsonl. Throws assay::Error (invalid input)
// for a sample in two shards or in the wrong one, not in the dataset, or with no result.
ShardResults collect_results(const ShardSet& set, const Dataset& ds);

// The merged folder's identity and its manifest fields (dataset, model, merged_from).
RunIdentity merged_identity(const ShardSet& set, const Dataset& ds);
nlohmann::json merged_manifest_fields(const ShardSet& set, const Dataset& ds);

// Fills state.generations, each sample's prediction and summary_extra "generation" from the
// shards, and writes the merged generations.jsonl in dataset order.
void write_merged_generations(RunState& state, const ShardSet& set, const ShardResults& results);

// The judge results as the shards wrote them, summarised over the union with the reliability
// figures recomputed (repeats, several judges, LC, calibration from `state`'s settings and
// dataset; no judge is called; judge_usage is the shards' sum), or nullopt when the run had no
// judge.
std::optional<JudgeStageOutput> merged_judgments(const RunState& state, const ShardSet& set,
                                                 const ShardResults& results,
                                                 const scoring::BootstrapDraws& draws);

// Writes `out_file` (the merged folder's judge_cache.jsonl) as the union of the entries already
// there and every shard's judge_cache.jsonl, each key once (the first seen wins: the existing
// file, then the shards in index order), so re-scoring the merged run finds every reply the
// shards paid for. A shard without a cache adds nothing; a torn last line is dropped. Returns
// the number of entries written. Throws assay::Error (invalid input) for an entry without a
// string "key", naming file:line; (i/o) when the file cannot be written.
size_t merge_judge_caches(const ShardSet& set, const std::filesystem::path& out_file);

}  // namespace assay::eval
