// `evaluate merge`: shards -> one run folder -> Metrics (over the union) -> Summarize.
#include "eval/commands/merge.h"

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/http_client.h"
#include "eval/commands/command.h"
#include "eval/shard_merge.h"
#include "eval/stages.h"

namespace assay::eval {
using nlohmann::json;

int run_merge_command(const MergeCommandOptions& options, std::ostream& out) {
  if (options.output.empty()) throw_invalid("evaluate merge: --output is required");
  const ShardSet set = read_shards(options.inputs);
  RunState st;
  st.settings = set.settings;
  st.ds = merged_dataset(set, options.dataset);
  const ShardResults results = collect_results(set, st.ds);
  RunFolder folder(options.output, merged_identity(set, st.ds),
                   set.first_manifest().value("config", json::object()), options.overwrite);
  st.folder = &folder;
  st.cancel = &global_stop_flag();
  return run_in_folder(folder, [&] {
    folder.update(merged_manifest_fields(set, st.ds));
    write_merged_generations(st, set, results);
    merge_judge_caches(set, folder.file("judge_cache.jsonl"));  // re-scoring pays no judge twice
    metrics_stage(st);  // exactly as one host would compute them
    st.judged = merged_judgments(st, set, results, bootstrap_draws(st));
    st.summary_extra["merged_shards"] = set.count;
    json summary = summarize_stage(st, "run");
    out << "Merged " << set.shards.size() << " shards, " << st.ds.samples.size() << " samples -> "
        << folder.dir().string() << "\n";
    print_summary(summary, out);
    check_judge_errors(st, out);  // the shards' judge errors, counted and limited over the union
    return StageOutcome::kDone;
  });
}

namespace {

class MergeCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* merge = app.add_subcommand(
        "merge",
        "Merge the shard folders of a sharded run into one run folder: results in "
        "dataset order, metrics recomputed over all samples");
    merge->add_option("--output,-o", output_, "Merged run folder to write")->required();
    merge->add_option("--dataset,-d", dataset_,
                      "The dataset the shards ran on (default: the path in their manifest.json)");
    merge->add_flag("--overwrite", options_.overwrite,
                    "Replace a different run already in the output folder");
    merge
        ->add_option("shards", inputs_,
                     "Shard folders, or folders holding shard-<i>-of-<n> folders")
        ->required();
    return merge;
  }
  int run(std::ostream& out) override {
    options_.output = output_;
    options_.dataset = dataset_;
    options_.inputs.assign(inputs_.begin(), inputs_.end());
    return run_merge_command(options_, out);
  }

 private:
  MergeCommandOptions options_;
  std::string output_, dataset_;
  std::vector<std::string> inputs_;
};

}  // namespace

std::unique_ptr<Command> make_merge_command() {
  return std::make_unique<MergeCommand>();
}

}  // namespace assay::eval
