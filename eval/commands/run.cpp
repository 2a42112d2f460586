// `evaluate run`: plan -> for each model: Generate -> Metrics -> Judge -> Loglik -> Summarize;
// then (several models) each compared with the baseline; then the gates decide the exit code.
#include <chrono>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/http_client.h"
#include "core/log.h"
#include "eval/commands/command.h"
#include "eval/commands/config_flags.h"
#include "eval/judge_estimate.h"
#include "eval/model_handle.h"
#include "eval/model_identity.h"
#include "eval/multi_model.h"
#include "eval/plan.h"
#include "eval/stages.h"
#include "inference/tokenizer.h"

namespace assay::eval {
namespace {
using nlohmann::json;

inference::EngineOptions engine_options(const RunSettings& s) {
  inference::EngineOptions eo;
  eo.device = s.device;
  eo.dtype = s.generation.dtype;
  eo.threads = s.generation.threads;
  eo.base_model = s.base_model;
  return eo;
}

// The dataset of one model's run: the first N samples in dummy mode, then this host's shard.
Dataset load_run_dataset(const RunPlan& plan, const RunSettings& s, size_t& n_in_file) {
  DatasetNeeds needs;
  needs.instruction = true;
  needs.reference = false;
  Dataset ds = load_dataset(s.dataset, s.fields, needs);
  n_in_file = ds.samples.size();
  const auto n_dummy = static_cast<size_t>(s.generation.dummy_samples);
  if (s.dummy && ds.samples.size() > n_dummy) ds.samples.resize(n_dummy);
  keep_shard(ds.samples, plan.shard);  // after the dummy cut: shards of a dummy run split its N
  return ds;
}

// One model, into its own run folder.
int run_model(const RunPlan& plan, const ModelPlan& mp, std::ostream& out) {
  const auto t0 = std::chrono::steady_clock::now();
  RunState st;
  st.settings = mp.settings;
  st.loglik_columns = mp.loglik_columns;
  size_t n_in_file = 0;
  st.ds = load_run_dataset(plan, st.settings, n_in_file);
  // A served model has no files here: the config's identity keys (backend, endpoint, model id)
  // and the server's URL name it.
  const bool served = mp.model_path.empty();
  const std::string fingerprint = served ? "" : model_fingerprint(mp.model_path);
  RunIdentity identity{"run", mp.config.identity_hash(), {{"dataset_sha256", st.ds.sha256}}};
  if (served) {
    identity.inputs["served_by"] = log::redact_url(st.settings.generation.base_url);
  } else {
    identity.inputs["model_fingerprint"] = fingerprint;
  }
  if (plan.shard.count > 1) identity.inputs["shard"] = shard_dir_name(plan.shard);
  RunFolder folder(st.settings.output, identity, mp.config.redacted(), plan.overwrite);
  if (!judge_errors_to_retry(folder, plan.retry_judge_errors, st) &&
      folder.state() == FolderState::kCompleted) {
    return report_already_completed(folder, out);
  }
  ModelHandle model(mp.model_path, engine_options(st.settings));
  st.folder = &folder;
  st.model = &model;
  // A completed run retrying its judge errors resumes too: generations.jsonl is complete.
  st.resuming = folder.state() != FolderState::kFresh;
  st.cancel = &global_stop_flag();
  return run_in_folder(folder, [&] {
    folder.update(
        {{"dataset",
          {{"path", st.ds.path},
           {"sha256", st.ds.sha256},
           {"n_samples", st.ds.samples.size()},
           {"n_in_file", n_in_file}}},
         {"model", served ? json{{"served", true}}
                          : json{{"path", mp.model_path.string()}, {"fingerprint", fingerprint}}}});
    if (plan.shard.count > 1) {
      folder.update({{"shard", {{"index", plan.shard.index}, {"count", plan.shard.count}}}});
    }
    if (!plan.multi && plan.container.contract != Contract::kNone) {
      folder.update({{"container", plan.container.info}});
    }
    st.timings["load_s"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto generator = make_generator(st.settings.generation.backend, {st.settings, model});
    if (generate_stage(st, *generator, mp.prompts) == StageOutcome::kStopped ||
        metrics_stage(st) == StageOutcome::kStopped || judge_stage(st) == StageOutcome::kStopped ||
        loglik_stage(st) == StageOutcome::kStopped) {
      return StageOutcome::kStopped;
    }
    json summary = summarize_stage(st, "run");
    const json& gen = st.summary_extra["generation"];
    out << "Generated " << st.ds.samples.size() << " answers";
    if (gen.value("resumed", 0) > 0)
      out << " (" << gen.value("resumed", 0) << " from a previous attempt)";
    out << ", " << gen.value("completion_tokens", 0) << " tokens -> " << folder.dir().string()
        << "\n";
    print_summary(summary, out);
    check_judge_errors(st, out);
    return StageOutcome::kDone;
  });
}

// True when a model's folder holds judge errors that a rerun judges again: transient ones, or any
// with --retry-judge-errors.
bool models_have_judge_errors_to_retry(const RunPlan& plan) {
  for (const ModelPlan& m : plan.models) {
    if (m.settings.judge.provider.empty()) continue;
    JudgeErrorsOnFile errors =
        judge_errors_on_file(std::filesystem::path(m.settings.output) / "scores.jsonl");
    if (errors.transient > 0 || (plan.retry_judge_errors && !errors.lasting_ids.empty())) {
      return true;
    }
  }
  return false;
}

// Several models (config key `models`), each into <output>/<name>/, then compared with the
// baseline in the parent folder. Sharded, each host evaluates its shard of every model and the
// parent folder is left to `evaluate merge` per model (hosts would overwrite each other's).
int run_models(const RunPlan& plan, std::ostream& out) {
  const bool sharded = plan.shard.count > 1;
  std::optional<RunFolder> parent;
  if (!sharded) {
    parent.emplace(plan.output, multi_run_identity(plan), plan.config.redacted(), plan.overwrite);
    if (parent->state() == FolderState::kCompleted && !models_have_judge_errors_to_retry(plan)) {
      out << "Already completed with the same config and models; nothing to do: "
          << plan.output.string() << "\n";
      print_model_comparisons(plan, out);
      return report_gates(evaluate_gates(plan.gates, plan.output), out);
    }
  }
  int rc = kExitOk;
  auto each_model = [&] {
    if (parent) record_models(plan, *parent);
    for (size_t i = 0; i < plan.models.size() && rc == kExitOk; ++i) {
      const ModelPlan& m = plan.models[i];
      out << "\n== model " << m.name << " (" << i + 1 << "/" << plan.models.size() << ") ==\n";
      log::info("evaluating model", {{"name", m.name},
                                     {"index", i + 1},
                                     {"models", plan.models.size()},
                                     {"path", m.settings.model}});
      rc = run_model(plan, m, out);
    }
    if (rc != kExitOk) return StageOutcome::kStopped;
    if (parent) summarize_models(plan, out);
    out << "\nEvaluated " << plan.models.size() << " models -> " << plan.output.string() << "\n";
    return StageOutcome::kDone;
  };
  if (!parent) return each_model() == StageOutcome::kDone ? kExitOk : rc;
  int status = run_in_folder(*parent, each_model);
  if (status != kExitOk) return rc;
  return report_gates(evaluate_gates(plan.gates, plan.output), out);
}

int run_plan(const RunPlan& plan, std::ostream& out) {
  if (plan.multi) {
    if (plan.shard.count > 1 && !plan.gates.empty()) {
      log::info("gates are checked on the merged runs (evaluate merge, then evaluate gate)");
    }
    return run_models(plan, out);
  }
  const ModelPlan& model = plan.models.front();
  int rc = run_model(plan, model, out);
  if (rc != kExitOk) return rc;
  export_results(plan.container, model.settings.output, plan.shard);
  if (plan.shard.count > 1) {
    if (!plan.gates.empty())
      log::info("gates are checked on the merged run (evaluate merge, then evaluate gate)");
    return kExitOk;
  }
  return report_gates(evaluate_gates(plan.gates, plan.output), out);
}

// --estimate: each model's judge calls and their cost, from the plan alone; nothing is generated,
// sent or written. Prompt tokens are counted with the model's tokenizer when its folder has one.
int estimate_plan(const RunPlan& plan, std::ostream& out) {
  for (const ModelPlan& mp : plan.models) {
    if (plan.multi) out << "== model " << mp.name << " ==\n";
    size_t n_in_file = 0;
    const Dataset ds = load_run_dataset(plan, mp.settings, n_in_file);
    std::unique_ptr<inference::Tokenizer> tokenizer;
    std::error_code ec;
    if (!mp.model_path.empty() && std::filesystem::is_directory(mp.model_path, ec)) {
      try {
        tokenizer = inference::Tokenizer::load(mp.model_path);
      } catch (const Error& e) {
        log::info("no tokenizer for the estimate: counting chars/4", {{"reason", e.what()}});
      }
    }
    TokenCounter count;
    if (tokenizer) {
      count = [&](std::string_view text) { return tokenizer->encode(text, false).size(); };
    }
    auto estimate = estimate_judge(mp.settings, ds, count, mp.settings.generation.max_new_tokens);
    if (!estimate) {
      out << "No judge configured (judge.provider): a run makes no judge call\n";
      continue;
    }
    print_judge_estimate(*estimate, mp.settings.judge, out);
    log::info("judge estimate", estimate->to_json());
  }
  return kExitOk;
}

class RunCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* run = app.add_subcommand(
        "run",
        "Generate an answer for every sample with the model, then score them (local metrics "
        "and judges); writes generations.jsonl, scores.jsonl, summary.json, manifest.json. "
        "A rerun resumes a stopped run. With `models` in the config: each model into "
        "<output>/<name>/, compared with the baseline. Then the config's gates (exit 3)");
    flags_.add_to(run);
    run->add_option("--model", model_,
                    "Model folder, LoRA adapter folder or model.tar.gz (env MODEL_PATH); with "
                    "--dummy and no model: the bundled stories260K");
    run->add_option("--base-model", base_model_,
                    "Base model folder for a LoRA adapter (base_model)");
    run->add_flag("--dummy", dummy_,
                  "Smoke test: the first dummy_samples (8) samples, at most dummy_max_new_tokens "
                  "(32) new tokens (env IS_DUMMY=true|false|1|0)");
    run->add_option("--device", device_, "cpu or cuda (env EVAL_DEVICE)");
    check_max_new_tokens(run->add_option(
        "--max-new-tokens", max_new_tokens_,
        "Tokens to generate at most per sample (generation.max_new_tokens, default 256)"));
    run->add_option("--generator", generator_,
                    "Where answers come from: local (this process), openai (an OpenAI-compatible "
                    "server at GEN_BASE_URL) or sagemaker (the endpoint GEN_ENDPOINT) "
                    "(generation.backend, env GEN_BACKEND)");
    run->add_option(
        "--chat-format", chat_format_,
        "auto (the model's own chat template from tokenizer_config.json, else Alpaca; "
        "the default), none (Alpaca), chatml, llama3, llama2, mistral (prompt.chat_format)");
    run->add_option(
        "--chat-template", chat_template_,
        "A Jinja chat template file to use instead of the model's (prompt.chat_template)");
    run->add_option("--system", system_, "A system message for chat prompts (prompt.system)");
    run->add_option("--prompt-template", prompt_template_,
                    "Prompt template with {instruction} and {input} (prompt.template)");
    run->add_flag("--overwrite", overwrite_,
                  "Replace a different run already in the output folder");
    run->add_flag("--estimate", estimate_,
                  "Print the judge calls and their estimated cost, then exit: nothing is "
                  "generated, no request is sent, no file is written");
    run->add_flag("--retry-judge-errors", retry_judge_errors_,
                  "Judge again every sample with a judge error, unparsable replies included "
                  "(without it a rerun retries only transient errors: timeouts, 429, 5xx)");
    run->add_option("--sm-root", container_.sm_root,
                    "SageMaker root folder (env SM_ROOT, default /opt/ml)");
    run->add_option("--contract", container_.contract,
                    "SageMaker contract: auto (from the folders under the root), processing, "
                    "training or none")
        ->check(CLI::IsMember({"auto", "processing", "training", "none"}));
    run->add_option("--shard", shard_,
                    "Evaluate only shard i of n (i/n, 0-based) into <output>/shard-<i>-of-<n>; "
                    "default: from resourceconfig.json in a container, else the whole dataset");
    return run;
  }

  int run(std::ostream& out) override {
    PlanRequest request;
    request.sources = flags_.sources();
    auto& flags = request.sources.flags;
    if (!model_.empty()) flags.emplace_back("model", model_);
    if (dummy_) flags.emplace_back("dummy", true);
    if (!device_.empty()) flags.emplace_back("device", device_);
    if (max_new_tokens_ >= 0) flags.emplace_back("generation.max_new_tokens", max_new_tokens_);
    if (!chat_format_.empty()) flags.emplace_back("prompt.chat_format", chat_format_);
    if (!generator_.empty()) flags.emplace_back("generation.backend", generator_);
    if (!chat_template_.empty()) flags.emplace_back("prompt.chat_template", chat_template_);
    if (!system_.empty()) flags.emplace_back("prompt.system", system_);
    if (!prompt_template_.empty()) flags.emplace_back("prompt.template", prompt_template_);
    if (!base_model_.empty()) flags.emplace_back("base_model", base_model_);
    request.container = detect_container(container_);
    request.shard = shard_;
    request.overwrite = overwrite_;
    request.retry_judge_errors = retry_judge_errors_;
    const ContainerLayout container = request.container;
    if (estimate_) {
      // The estimate writes nothing, so it needs no output folder; one given is still checked.
      if (flags_.output.empty()) flags.emplace_back("output", "(none: --estimate writes nothing)");
      return estimate_plan(plan_run(std::move(request)), out);
    }
    try {  // in a SageMaker container, a failure's reason goes where SageMaker shows it
      return run_plan(plan_run(std::move(request)), out);
    } catch (const Error& e) {
      write_failure_reason(container, std::string(error_kind_name(e.kind())) + ": " + e.what());
      throw;
    } catch (const std::exception& e) {
      write_failure_reason(container, std::string("internal error: ") + e.what());
      throw;
    }
  }

 private:
  ConfigFlags flags_;
  ContainerOptions container_;
  std::string model_, base_model_, device_, chat_format_, chat_template_, system_, prompt_template_,
      shard_, generator_;
  bool dummy_ = false, overwrite_ = false, retry_judge_errors_ = false, estimate_ = false;
  int max_new_tokens_ = -1;
};

}  // namespace

std::unique_ptr<Command> make_run_command() {
  return std::make_unique<RunCommand>();
}

}  // namespace assay::eval
