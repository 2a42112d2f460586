// `evaluate`: parses flags with CLI11, fills the command's options, runs it and maps the outcome
// to an exit code (0 ok, 2 bad input, 3 gate failed, 4 runtime failure, 130/143 signals).
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "eval/compare_command.h"
#include "eval/gates.h"
#include "eval/generate_command.h"
#include "eval/inspect_command.h"
#include "eval/merge_command.h"
#include "eval/multi_run.h"
#include "eval/report.h"
#include "eval/run_command.h"
#include "eval/score_command.h"
#include "eval/tokenize_command.h"

namespace {

using assay::eval::ConfigSources;
using nlohmann::json;

// Flags shared by commands that read a run config.
struct ConfigFlags {
  std::string config;
  std::string dataset;
  std::string output;
  std::string metrics;
  std::string reference_field;
  std::string prediction_field;
  std::string id_field;
  std::string judge_rubric;
  std::string judge_provider;
  std::string judge_model;
  std::string judge_base_url;
  int judge_max_concurrency = 0;

  void add_to(CLI::App* cmd) {
    cmd->add_option("--config,-c", config, "Run config JSON file (env EVAL_CONFIG)");
    cmd->add_option("--dataset,-d", dataset, "Dataset: JSONL or JSON array (env DATASET_PATH)");
    cmd->add_option("--output,-o", output, "Run folder to write (env OUTPUT_DIR)");
    cmd->add_option("--metrics,-m", metrics,
                    "Comma-separated metrics or groups (env EVAL_METRICS). Groups: squad, bleu, "
                    "chrf, ter, rouge, rouge_stem, all. Metrics: exact_match, quasi_exact_match, "
                    "squad_em, squad_f1, squad_p, squad_r, sentence_bleu, chrf, chrf_pp, ter, "
                    "rouge{1,2,L,Lsum}_{f,p,r}[_stem], contains, valid_json, answer_words, "
                    "regex_match (needs a pattern option in the config)");
    cmd->add_option("--reference-field", reference_field,
                    "Dataset field with the reference answer (default: output)");
    cmd->add_option("--prediction-field", prediction_field,
                    "Dataset field with the prediction (default: prediction)");
    cmd->add_option("--id-field", id_field, "Dataset field with the sample id (default: id)");
    cmd->add_option("--judge-rubric", judge_rubric,
                    "Judge rubric: handbook, reference, mt_bench_single, pairwise, or a rubric "
                    "JSON file (env JUDGE_RUBRIC)");
    cmd->add_option("--judge-provider", judge_provider, "Judge: openai, dummy or none (env JUDGE_PROVIDER)");
    cmd->add_option("--judge-model", judge_model, "Judge model id (env JUDGE_MODEL)");
    cmd->add_option("--judge-base-url", judge_base_url,
                    "OpenAI-compatible endpoint (env JUDGE_BASE_URL, then OPENAI_BASE_URL)");
    cmd->add_option("--judge-max-concurrency", judge_max_concurrency,
                    "Judge requests in flight (env JUDGE_MAX_CONCURRENCY, default 32)");
  }

  ConfigSources sources() const {
    ConfigSources s;
    std::string path = config;
    if (path.empty()) {
      const char* env = std::getenv("EVAL_CONFIG");
      if (env != nullptr) path = env;
    }
    if (!path.empty()) s.file = path;
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
    if (judge_max_concurrency > 0) s.flags.emplace_back("judge.max_concurrency", judge_max_concurrency);
    if (!metrics.empty()) {
      json list = json::array();
      size_t pos = 0;
      while (pos <= metrics.size()) {
        size_t comma = metrics.find(',', pos);
        if (comma == std::string::npos) comma = metrics.size();
        if (comma > pos) list.push_back(metrics.substr(pos, comma - pos));
        pos = comma + 1;
      }
      s.flags.emplace_back("metrics", list);
    }
    return s;
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Assay: evaluate fine-tuned language models.\n"
               "Exit codes: 0 ok, 2 bad input or config, 3 a CI gate failed, 4 runtime failure "
               "(a rerun resumes), 130/143 stopped by a signal.",
               "evaluate"};
  app.set_version_flag("--version", std::string("evaluate (assay) ") + assay::kVersion);
  std::string log_level;
  std::string log_format = "auto";
  app.add_option("--log-level", log_level, "debug, info, warn, error, off (env ASSAY_LOG_LEVEL)");
  app.add_option("--log-format", log_format, "auto (human on a terminal, JSON lines otherwise), human, json")
      ->check(CLI::IsMember({"auto", "human", "json"}));
  app.require_subcommand(1);

  ConfigFlags score_flags;
  assay::eval::ScoreCommandOptions score_options;
  CLI::App* score = app.add_subcommand(
      "score", "Score a dataset that already holds predictions; writes manifest.json, "
               "scores.jsonl and summary.json to the output folder");
  score_flags.add_to(score);
  score->add_flag("--overwrite", score_options.overwrite,
                  "Replace a different run already in the output folder");

  ConfigFlags run_flags;
  assay::eval::RunCommandOptions run_options;
  std::string run_model, run_device, run_chat_format, run_prompt_template, run_base_model;
  bool run_dummy = false;
  int run_max_new_tokens = -1;
  CLI::App* run = app.add_subcommand(
      "run",
      "Generate an answer for every sample with the model, then score them (local metrics "
      "and judges); writes generations.jsonl, scores.jsonl, summary.json, manifest.json. "
      "A rerun resumes a stopped run. With `models` in the config: each model into "
      "<output>/<name>/, compared with the baseline. Then the config's gates (exit 3)");
  run_flags.add_to(run);
  run->add_option("--model", run_model,
                  "Model folder, LoRA adapter folder or model.tar.gz (env MODEL_PATH); with "
                  "--dummy and no model: the bundled stories260K");
  run->add_option("--base-model", run_base_model, "Base model folder for a LoRA adapter (base_model)");
  run->add_flag("--dummy", run_dummy,
                "Smoke test: the first dummy_samples (8) samples, at most dummy_max_new_tokens "
                "(32) new tokens (env IS_DUMMY=true|false|1|0)");
  run->add_option("--device", run_device, "cpu or cuda (env EVAL_DEVICE)");
  run->add_option("--max-new-tokens", run_max_new_tokens,
                  "Tokens to generate at most per sample (generation.max_new_tokens, default 256)")
      ->check(CLI::NonNegativeNumber);
  run->add_option("--chat-format", run_chat_format,
                  "none (Alpaca template), auto (from tokenizer_config.json), chatml, llama3, "
                  "llama2, mistral (prompt.chat_format)");
  run->add_option("--prompt-template", run_prompt_template,
                  "Prompt template with {instruction} and {input} (prompt.template)");
  run->add_flag("--overwrite", run_options.overwrite,
                "Replace a different run already in the output folder");
  run->add_option("--sm-root", run_options.container.sm_root,
                  "SageMaker root folder (env SM_ROOT, default /opt/ml)");
  run->add_option("--contract", run_options.container.contract,
                  "SageMaker contract: auto (from the folders under the root), processing, "
                  "training or none")
      ->check(CLI::IsMember({"auto", "processing", "training", "none"}));
  run->add_option("--shard", run_options.shard,
                  "Evaluate only shard i of n (i/n, 0-based) into <output>/shard-<i>-of-<n>; "
                  "default: from resourceconfig.json in a container, else the whole dataset");

  assay::eval::MergeCommandOptions merge_options;
  std::string merge_output, merge_dataset;
  std::vector<std::string> merge_inputs;
  CLI::App* merge = app.add_subcommand(
      "merge", "Merge the shard folders of a sharded run into one run folder: results in dataset "
               "order, metrics recomputed over all samples");
  merge->add_option("--output,-o", merge_output, "Merged run folder to write")->required();
  merge->add_option("--dataset,-d", merge_dataset,
                    "The dataset the shards ran on (default: the path in their manifest.json)");
  merge->add_flag("--overwrite", merge_options.overwrite,
                  "Replace a different run already in the output folder");
  merge->add_option("shards", merge_inputs,
                    "Shard folders, or folders holding shard-<i>-of-<n> folders")
      ->required();

  assay::eval::CompareCommandOptions compare_options;
  std::string compare_config, compare_metrics;
  CLI::App* compare = app.add_subcommand(
      "compare", "Compare two runs sample by sample: per-metric A-B with paired-bootstrap CIs and "
                 "p-values; writes compare.json, then checks the config's gates");
  compare->add_option("run_a", compare_options.compare.run_a, "Run folder of model A")->required();
  compare->add_option("run_b", compare_options.compare.run_b, "Run folder of model B")->required();
  compare->add_option("--output,-o", compare_options.output,
                      "Folder for compare.json (default: RUN_A)");
  compare->add_option("--metrics,-m", compare_metrics,
                      "Comma-separated: metric names, judge[.NAME], corpus[.NAME] (default: all "
                      "both runs have)");
  compare->add_option("--config,-c", compare_config,
                      "Config with bootstrap.* and gates (env EVAL_CONFIG, EVAL_GATES)");
  compare->add_flag("--force", compare_options.compare.force,
                    "Compare runs that are not completed; replace a "
                    "compare.json of another pair");
  std::string gate_dir, gate_config;
  CLI::App* gate = app.add_subcommand(
      "gate", "Check the config's CI gates against a finished run folder (exit 3 if one fails)");
  gate->add_option("dir", gate_dir, "Run folder (or compare output folder)")->required();
  gate->add_option("--config,-c", gate_config, "Config with gates (env EVAL_CONFIG, EVAL_GATES)");

  assay::eval::TokenizeCommandOptions tokenize_options;
  bool no_special = false;
  CLI::App* tokenize = app.add_subcommand(
      "tokenize", "Encode text with a model's tokenizer; prints {\"ids\": [...]} per input");
  tokenize
      ->add_option("--tokenizer", tokenize_options.tokenizer,
                   "Model folder, tokenizer.json or tokenizer.model")
      ->required();
  CLI::Option* text_flag =
      tokenize->add_option("--text", tokenize_options.text, "The text to encode");
  tokenize->add_option("--file", tokenize_options.file, "JSONL file, one {\"text\": ...} per line")
      ->excludes(text_flag);
  tokenize->add_flag("--no-special", no_special, "Do not add special tokens (BOS etc.)");
  tokenize->add_flag("--decode", tokenize_options.decode, "Also print the ids decoded back");

  assay::eval::InspectCommandOptions inspect_options;
  CLI::App* inspect = app.add_subcommand(
      "inspect",
      "Describe a model: architecture, parameters, dtypes, LoRA, tokenizer, special tokens");
  inspect
      ->add_option("model", inspect_options.model,
                   "Model folder, LoRA adapter folder or model.tar.gz")
      ->required();
  inspect->add_option("--base-model", inspect_options.base_model,
                      "Base model folder for a LoRA adapter");
  inspect->add_flag("--json", inspect_options.json, "Print one JSON object");

  assay::eval::GenerateCommandOptions generate_options;
  generate_options.generate.greedy = false;  // the CLI samples unless --greedy
  CLI::App* generate = app.add_subcommand("generate", "Generate a continuation of one prompt");
  generate
      ->add_option("--model", generate_options.model,
                   "Model folder, LoRA adapter folder or model.tar.gz")
      ->required();
  generate->add_option("--prompt", generate_options.prompt, "Text to continue (empty: BOS alone)");
  generate
      ->add_option("--max-new-tokens", generate_options.generate.max_new_tokens,
                   "Tokens to generate at most")
      ->check(CLI::NonNegativeNumber);
  generate->add_flag("--greedy", generate_options.generate.greedy,
                     "Argmax decoding (default: sample)");
  generate
      ->add_option("--temperature", generate_options.generate.temperature,
                   "Sampling temperature (> 0)")
      ->check(CLI::PositiveNumber);
  generate->add_option("--seed", generate_options.generate.seed, "Sampling seed");
  generate->add_option("--base-model", generate_options.engine.base_model,
                       "Base model folder for a LoRA adapter");
  generate
      ->add_option("--device", generate_options.engine.device,
                   "cpu, cuda or cuda:N (env EVAL_DEVICE)")
      ->envname("EVAL_DEVICE");
  generate->add_option("--dtype", generate_options.engine.dtype, "float32, bfloat16 or auto");
  generate->add_option("--threads", generate_options.engine.threads, "CPU threads (0: all)");
  generate->add_flag("--json", generate_options.json, "Print {\"ids\": [...], \"text\": ...}");
  std::string report_dir;
  CLI::App* report = app.add_subcommand(
      "report", "Rewrite report.md and report.html of a run (or compare) folder from its files");
  report->add_option("dir", report_dir, "Run folder")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : assay::kExitBadInput;
  }

  try {
    if (log_level.empty()) {
      const char* env = std::getenv("ASSAY_LOG_LEVEL");
      log_level = env != nullptr ? env : "info";
    }
    assay::log::configure(assay::log::parse_level(log_level, "--log-level"),
                          log_format == "json"    ? assay::log::Format::kJson
                          : log_format == "human" ? assay::log::Format::kHuman
                                                  : assay::log::Format::kAuto);
    if (score->parsed()) {
      score_options.sources = score_flags.sources();
      return assay::eval::run_score_command(score_options, std::cout);
    }
    if (run->parsed()) {
      run_options.sources = run_flags.sources();
      auto& flags = run_options.sources.flags;
      if (!run_model.empty()) flags.emplace_back("model", run_model);
      if (run_dummy) flags.emplace_back("dummy", true);
      if (!run_device.empty()) flags.emplace_back("device", run_device);
      if (run_max_new_tokens >= 0)
        flags.emplace_back("generation.max_new_tokens", run_max_new_tokens);
      if (!run_chat_format.empty()) flags.emplace_back("prompt.chat_format", run_chat_format);
      if (!run_prompt_template.empty()) flags.emplace_back("prompt.template", run_prompt_template);
      if (!run_base_model.empty()) flags.emplace_back("base_model", run_base_model);
      return assay::eval::run_evaluation(run_options, std::cout);
    }
    if (compare->parsed() || gate->parsed()) {
      ConfigFlags cf;
      cf.config = compare->parsed() ? compare_config : gate_config;
      ConfigSources sources = cf.sources();
      if (gate->parsed()) return assay::eval::run_gate_command(gate_dir, sources, std::cout);
      compare_options.sources = sources;
      for (size_t pos = 0; pos <= compare_metrics.size();) {
        size_t comma = std::min(compare_metrics.find(',', pos), compare_metrics.size());
        if (comma > pos) compare_options.compare.metrics.push_back(compare_metrics.substr(pos, comma - pos));
        pos = comma + 1;
      }
      return assay::eval::run_compare_command(compare_options, std::cout);
    }
    if (merge->parsed()) {
      merge_options.output = merge_output;
      merge_options.dataset = merge_dataset;
      merge_options.inputs.assign(merge_inputs.begin(), merge_inputs.end());
      return assay::eval::run_merge_command(merge_options, std::cout);
    }
    if (report->parsed()) {
      assay::eval::write_reports(report_dir);
      std::cout << "Wrote " << (std::filesystem::path(report_dir) / "report.md").string() << " and "
                << (std::filesystem::path(report_dir) / "report.html").string() << "\n";
      return assay::kExitOk;
    }
    if (inspect->parsed()) return assay::eval::run_inspect_command(inspect_options, std::cout);
    if (generate->parsed()) return assay::eval::run_generate_command(generate_options, std::cout);
    if (tokenize->parsed()) {
      tokenize_options.has_text = text_flag->count() > 0;
      tokenize_options.add_special_tokens = !no_special;
      return assay::eval::run_tokenize_command(tokenize_options, std::cout);
    }
  } catch (const assay::Error& e) {
    assay::log::error(e.what(), {{"kind", assay::error_kind_name(e.kind())}});
    return e.exit_code();
  } catch (const std::exception& e) {
    assay::log::error(std::string("internal error: ") + e.what());
    return assay::kExitRuntime;
  }
  return assay::kExitOk;
}
