// `evaluate merge`: combines the shard folders of a sharded `evaluate run` into one run folder,
// as if one host had evaluated the whole dataset: generations and scores in dataset order, local
// metrics (corpus metrics included) recomputed over the union rather than averaged, judge
// summaries recomputed from the per-sample judgments (no judge is called).
#pragma once

#include <filesystem>
#include <ostream>
#include <vector>

namespace assay::eval {

struct MergeCommandOptions {
  std::filesystem::path output;  // the merged run folder
  // Shard folders (holding manifest.json), or folders holding shard-<i>-of-<n> folders.
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path dataset;  // "" = the path in the shards' manifest.json
  bool overwrite = false;         // replace a different run in the output folder
};

// Runs the command; prints the summary table to `out`. Returns 0. Throws assay::Error (invalid
// input, exit 2) when the shards do not form one run (eval/shard_merge.h) or a dataset file
// whose SHA-256 is not the one the shards ran on.
int run_merge_command(const MergeCommandOptions& options, std::ostream& out);

}  // namespace assay::eval
