#include "eval/run_command.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/http_client.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "eval/dataset.h"
#include "eval/judge_stage.h"
#include "eval/loglik_stage.h"
#include "eval/prompt.h"
#include "eval/run_folder.h"
#include "eval/run_settings.h"
#include "eval/score_command.h"
#include "eval/shard.h"
#include "inference/batch_generator.h"
#include "inference/engine.h"
#include "inference/tokenizer.h"
#include "scoring/scorer.h"

#ifndef ASSAY_SOURCE_DIR
#define ASSAY_SOURCE_DIR ""
#endif

namespace assay::eval {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {
// generations.jsonl is fsynced after this many new results or this much time, and at the end.
constexpr size_t kSyncEveryResults = 16;
constexpr double kSyncEverySeconds = 1.0;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Reads up to `n` bytes at `offset` of an open file.
std::string read_at(std::ifstream& in, std::uint64_t offset, std::uint64_t n) {
  std::string buf(n, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(buf.data(), static_cast<std::streamsize>(n));
  buf.resize(static_cast<size_t>(in.gcount()));
  in.clear();
  return buf;
}

void hash_safetensors_header(const fs::path& file, Sha256& h) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_io(file.string() + ": cannot open");
  std::uint64_t size = fs::file_size(file);
  std::string len = read_at(in, 0, 8);
  h.update("safetensors\n" + file.filename().string() + "\n" + std::to_string(size) + "\n");
  if (len.size() < 8) return;
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(len[i]);
  h.update(read_at(in, 8, std::min<std::uint64_t>(n, size > 8 ? size - 8 : 0)));
}

}  // namespace

fs::path find_bundled_model() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("ASSAY_MODEL_DIR"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path().parent_path() / "share" / "assay" / "models" /
                         "stories260K");
  }
  if (std::string(ASSAY_SOURCE_DIR).size() > 0) {
    candidates.push_back(fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K");
  }
  std::string looked;
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c / "config.json", ec)) return c;
    looked += "\n  " + c.string();
  }
  throw_not_found(
      "--dummy without a model: the bundled model models/stories260K was not found; "
      "looked in (set ASSAY_MODEL_DIR or pass --model):" +
      looked);
}

std::string model_fingerprint(const fs::path& model) {
  std::error_code ec;
  if (!fs::exists(model, ec)) throw_not_found(model.string() + ": model not found");
  Sha256 h;
  if (fs::is_regular_file(model, ec)) {  // model.tar.gz: size + first and last MiB
    constexpr std::uint64_t kMiB = 1 << 20;
    std::uint64_t size = fs::file_size(model);
    std::ifstream in(model, std::ios::binary);
    if (!in) throw_io(model.string() + ": cannot open");
    h.update("archive\n" + std::to_string(size) + "\n");
    h.update(read_at(in, 0, kMiB));
    h.update(read_at(in, size > kMiB ? size - kMiB : 0, kMiB));
    return h.hex_digest();
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(model)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  static const std::set<std::string> kWhole = {
      "config.json",           "adapter_config.json", "generation_config.json",
      "tokenizer_config.json", "tokenizer.json",      "tokenizer.model"};
  for (const auto& f : files) {
    std::string name = f.filename().string();
    if (kWhole.count(name)) {
      h.update("file\n" + name + "\n" + sha256_file(f) + "\n");
    } else if (f.extension() == ".safetensors") {
      hash_safetensors_header(f, h);
    }
  }
  return h.hex_digest();
}

namespace {
// The job itself, once the container layout has filled `sources`; sets `run_dir`.
int run_job(const RunCommandOptions& options, const ConfigSources& sources,
            const ContainerLayout& container, const ShardSpec& shard, fs::path& run_dir,
            std::ostream& out) {
  auto t0 = Clock::now();
  ResolvedConfig cfg = resolve_config(sources);
  RunSettings settings = run_settings_from(cfg);
  const LoglikStage loglik(settings.metrics);  // answer_tokens, perplexity: need the model
  const GenerationSettings& gen = settings.generation;
  if (settings.dataset.empty() && !container.dataset_error.empty()) {
    throw_invalid(container.dataset_error);
  }
  if (settings.model.empty() && !container.model_error.empty()) {
    throw_invalid(container.model_error);
  }
  if (settings.dataset.empty()) {
    throw_invalid("no dataset: pass --dataset, set DATASET_PATH, or set `dataset` in the config");
  }
  if (settings.output.empty()) {
    throw_invalid("no output folder: pass --output, set OUTPUT_DIR, or set `output` in the config");
  }
  settings.output = shard_output_dir(settings.output, shard).string();
  run_dir = settings.output;
  // The prompt template is checked before anything is loaded.
  std::optional<PromptBuilder> prompts;
  if (!gen.prompt_template.empty()) {
    prompts = PromptBuilder::from_template(gen.prompt_template, gen.prompt_template_key);
  } else if (gen.chat_format != "auto") {
    prompts = PromptBuilder::from_chat_format(*parse_chat_format(gen.chat_format));
  }
  fs::path model_path = settings.model;
  if (model_path.empty()) {
    if (!settings.dummy) {
      throw_invalid(
          "no model: pass --model, set MODEL_PATH, or set `model` in the config (or "
          "use --dummy to run the bundled tiny model)");
    }
    model_path = find_bundled_model();
    log::info("dummy run with the bundled model", {{"model", model_path.string()}});
  }

  DatasetNeeds needs;
  needs.instruction = true;
  needs.reference = false;
  Dataset ds = load_dataset(settings.dataset, settings.fields, needs);
  size_t n_in_file = ds.samples.size();
  if (settings.dummy && ds.samples.size() > static_cast<size_t>(gen.dummy_samples)) {
    ds.samples.resize(static_cast<size_t>(gen.dummy_samples));
  }
  keep_shard(ds.samples, shard);  // after the dummy cut: the shards of a dummy run split its N
  std::string fingerprint = model_fingerprint(model_path);

  RunIdentity identity{"run",
                       cfg.identity_hash(),
                       {{"dataset_sha256", ds.sha256}, {"model_fingerprint", fingerprint}}};
  if (shard.count > 1) identity.inputs["shard"] = shard_dir_name(shard);
  RunFolder folder(settings.output, identity, cfg.redacted(), options.overwrite);
  if (folder.state() == RunState::kCompleted) {
    json summary = json::parse(read_file(folder.file("summary.json")));
    out << "Already completed with the same config and inputs; nothing to do: "
        << folder.dir().string() << "\n";
    print_summary(summary, out);
    return kExitOk;
  }
  bool resuming = folder.state() == RunState::kResume;
  folder.mark_running();
  try {
    folder.update({{"dataset",
                    {{"path", ds.path},
                     {"sha256", ds.sha256},
                     {"n_samples", ds.samples.size()},
                     {"n_in_file", n_in_file}}},
                   {"model", {{"path", model_path.string()}, {"fingerprint", fingerprint}}}});
    if (shard.count > 1) folder.update({{"shard", {{"index", shard.index}, {"count", shard.count}}}});
    if (container.contract != Contract::kNone) folder.update({{"container", container.info}});

    // Resume: keep every complete line of generations.jsonl, drop a torn tail.
    const fs::path gen_path = folder.file("generations.jsonl");
    std::map<std::string, json> done;
    std::error_code ec;
    if (!resuming) fs::remove(gen_path, ec);
    if (resuming && fs::exists(gen_path, ec)) {
      JsonlContents prev = read_jsonl(gen_path, TornTail::kDrop);
      if (prev.torn_tail_line) {
        log::warn("dropping a torn last line of generations.jsonl; it is generated again",
                  {{"line", *prev.torn_tail_line}});
      }
      if (fs::file_size(gen_path) != prev.valid_bytes) truncate_file(gen_path, prev.valid_bytes);
      for (auto& r : prev.records) {
        if (r.value.is_object() && r.value.contains("id") && r.value["id"].is_string() &&
            r.value.contains("output") && r.value["output"].is_string()) {
          std::string id = r.value["id"].get<std::string>();
          done[id] = std::move(r.value);
        } else {
          throw_invalid(gen_path.string() + ":" + std::to_string(r.line) +
                        ": not a generation record (needs string 'id' and 'output')");
        }
      }
    }
    std::vector<size_t> pending;
    for (size_t i = 0; i < ds.samples.size(); ++i) {
      if (!done.count(ds.samples[i].id)) pending.push_back(i);
    }
    size_t resumed = ds.samples.size() - pending.size();
    double load_s = seconds_since(t0);
    double generate_s = 0;
    size_t new_completion_tokens = 0;
    std::unique_ptr<inference::Engine> engine;  // kept for the perplexity stage

    if (!pending.empty()) {
      auto tl = Clock::now();
      inference::EngineOptions eo;
      eo.device = settings.device;
      eo.dtype = gen.dtype;
      eo.threads = gen.threads;
      eo.base_model = settings.base_model;
      engine = inference::Engine::load(model_path, eo);
      const auto tokenizer = inference::Tokenizer::load(engine->files().tokenizer_dir);
      if (!prompts) {
        ChatFormat f = detect_chat_format_in(engine->files().tokenizer_dir);
        prompts = PromptBuilder::from_chat_format(f);
        log::info("prompt format detected from tokenizer_config.json",
                  {{"chat_format", chat_format_name(f)}});
      }
      folder.update({{"prompt_format", prompts->description()}});
      const int64_t context = engine->config().max_position_embeddings;
      std::vector<inference::GenerationRequest> requests;
      std::map<std::string, std::string> prompt_text;
      requests.reserve(pending.size());
      for (size_t i : pending) {
        const Sample& s = ds.samples[i];
        std::string p = prompts->build(s.instruction, s.input);
        std::vector<int32_t> ids = tokenizer->encode(p, /*add_special_tokens=*/true);
        if (context > 0 && static_cast<int64_t>(ids.size()) >= context) {
          throw_invalid(ds.path + ":" + std::to_string(s.line) + ": sample '" + s.id +
                        "': the prompt has " + std::to_string(ids.size()) +
                        " tokens, the model's context (max_position_embeddings) is " +
                        std::to_string(context));
        }
        prompt_text[s.id] = std::move(p);
        requests.push_back({s.id, std::move(ids)});
      }
      load_s += seconds_since(tl);

      inference::SamplingParams sp;
      sp.temperature = gen.temperature;
      sp.top_k = gen.top_k;
      sp.top_p = gen.top_p;
      sp.min_p = gen.min_p;
      sp.repetition_penalty = gen.repetition_penalty;
      sp.max_new_tokens = gen.max_new_tokens;
      sp.stop = gen.stop;
      sp.seed = gen.seed;
      inference::BatchOptions bo;
      bo.max_batch_size = gen.max_batch_size;
      bo.max_batch_tokens = gen.max_batch_tokens;
      bo.max_context = static_cast<int>(context);
      inference::BatchGenerator generator(*engine, *tokenizer, bo);

      install_stop_signal_handlers();
      AppendFile file(gen_path);
      auto tg = Clock::now();
      auto last_sync = tg;
      size_t unsynced = 0, finished = 0;
      const size_t total = ds.samples.size();
      Progress progress("generation", total, resumed);
      log::info("generating", {{"samples", pending.size()},
                               {"resumed", resumed},
                               {"max_new_tokens", gen.max_new_tokens},
                               {"max_batch_size", gen.max_batch_size}});
      generator.run(
          requests, sp,
          [&](inference::GenerationResult&& r) {
            json line = {{"id", r.id},
                         {"prompt", prompt_text[r.id]},
                         {"output", r.text},
                         {"finish_reason", r.finish_reason},
                         {"prompt_tokens", r.prompt_tokens},
                         {"completion_tokens", r.completion_tokens}};
            file.append_line(to_jsonl_line(line));
            new_completion_tokens += r.completion_tokens;
            done[r.id] = std::move(line);
            ++finished;
            ++unsynced;
            auto now = Clock::now();
            if (unsynced >= kSyncEveryResults ||
                std::chrono::duration<double>(now - last_sync).count() >= kSyncEverySeconds) {
              file.sync();
              unsynced = 0;
              last_sync = now;
            }
            progress.update(
                resumed + finished,
                {{"tokens_per_s", new_completion_tokens / std::max(seconds_since(tg), 1e-9)}});
          },
          &global_stop_flag());
      progress.finish();
      file.sync();
      generate_s = seconds_since(tg);
      if (global_stop_flag().load()) {
        log::warn("stopped by a signal; generations so far are saved, rerun to resume",
                  {{"done", resumed + finished}, {"total", total}});
        folder.mark_interrupted();
        return stop_signal() == SIGTERM ? kExitSigterm : kExitSigint;
      }
      log::info("generation done",
                {{"samples", finished},
                 {"seconds", generate_s},
                 {"completion_tokens", new_completion_tokens},
                 {"tokens_per_s", new_completion_tokens / std::max(generate_s, 1e-9)}});
    }

    // Every sample now has an output.
    size_t prompt_tokens = 0, completion_tokens = 0;
    json finish_reasons = json::object();
    for (auto& s : ds.samples) {
      auto it = done.find(s.id);
      if (it == done.end()) {
        throw_internal("sample '" + s.id + "' has no generation after the generation stage");
      }
      const json& g = it->second;
      s.prediction = g["output"].get<std::string>();
      prompt_tokens += g.value("prompt_tokens", size_t{0});
      completion_tokens += g.value("completion_tokens", size_t{0});
      std::string fr = g.value("finish_reason", std::string("unknown"));
      finish_reasons[fr] = finish_reasons.value(fr, 0) + 1;
    }

    // Local metrics over the samples that have a reference.
    auto ts = Clock::now();
    std::vector<size_t> with_ref;
    for (size_t i = 0; i < ds.samples.size(); ++i) {
      if (!ds.samples[i].reference.empty()) with_ref.push_back(i);
    }
    std::optional<scoring::ScoredDataset> scored;
    if (!with_ref.empty()) {
      std::vector<std::string> predictions, references;
      for (size_t i : with_ref) {
        predictions.push_back(*ds.samples[i].prediction);
        references.push_back(ds.samples[i].reference);
      }
      Progress progress("scoring", predictions.size());
      scored = scoring::score_dataset(predictions, references, settings.metrics,
                                      settings.bootstrap,
                                      [&](size_t n) { progress.advance(n); });
      progress.finish();
      if (with_ref.size() < ds.samples.size()) {
        log::warn("some samples have no reference; local metrics cover the others",
                  {{"with_reference", with_ref.size()}, {"samples", ds.samples.size()}});
      }
    } else {
      log::info("the dataset has no references: no local metrics",
                {{"field", settings.fields.reference}});
    }
    double score_s = seconds_since(ts);
    auto tj = Clock::now();
    std::optional<JudgeStageOutput> judged = run_judge_stage(settings, ds, folder.dir());
    if (judged && judged->interrupted) {
      folder.mark_interrupted();
      return stop_signal() == SIGTERM ? kExitSigterm : kExitSigint;
    }

    RunScores scores;
    scores.metric_rows.assign(ds.samples.size(), json::object());
    if (scored) {
      for (size_t k = 0; k < with_ref.size(); ++k) {
        for (size_t c = 0; c < scored->columns.size(); ++c) {
          scores.metric_rows[with_ref[k]][scored->columns[c]] = scored->values[k][c];
        }
      }
      scores.metrics = scored->summary;
      scores.corpus = scored->corpus;
    }
    scores.judged = judged ? &*judged : nullptr;
    loglik.add_to(scores, ds, done, engine.get(), model_path, settings);
    json generation = {{"prompt_tokens", prompt_tokens},
                       {"completion_tokens", completion_tokens},
                       {"finish_reasons", finish_reasons},
                       {"resumed", resumed}};
    json summary = write_scores_and_summary(folder.dir(), "run", ds, scores, settings.bootstrap,
                                            {{"generation", generation}});
    folder.update({{"timings",
                    {{"load_s", load_s},
                     {"generate_s", generate_s},
                     {"score_s", score_s},
                     {"judge_s", judged ? seconds_since(tj) : 0.0}}}});
    folder.mark_completed();
    out << "Generated " << ds.samples.size() << " answers";
    if (resumed > 0) out << " (" << resumed << " from a previous attempt)";
    out << ", " << completion_tokens << " tokens -> " << folder.dir().string() << "\n";
    print_summary(summary, out);
  } catch (const std::exception& e) {
    folder.mark_failed(e.what());
    throw;
  }
  return kExitOk;
}
}  // namespace

int run_run_command(const RunCommandOptions& options, std::ostream& out) {
  ContainerLayout container = detect_container(options.container);
  try {
    ConfigSources sources = options.sources;
    read_container_inputs(container, sources);
    ShardSpec shard = options.shard.empty() ? container.shard.value_or(ShardSpec{})
                                            : parse_shard(options.shard);
    fs::path run_dir;
    int rc = run_job(options, sources, container, shard, run_dir, out);
    if (rc == kExitOk) export_results(container, run_dir, shard);
    return rc;
  } catch (const Error& e) {
    write_failure_reason(container, std::string(error_kind_name(e.kind())) + ": " + e.what());
    throw;
  } catch (const std::exception& e) {
    write_failure_reason(container, std::string("internal error: ") + e.what());
    throw;
  }
}

}  // namespace assay::eval
