// The Generate stage (eval/stages.h).
#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/http_client.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "eval/stages.h"

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

// Resume: every complete line of generations.jsonl, a torn tail dropped (and cut off the file).
// An id on two lines is invalid input naming both. Lines of samples that failed for good
// (generation_error) are taken out of the file: a rerun asks for them again.
void read_previous(const fs::path& path, std::map<std::string, json>& done) {
  JsonlContents prev = read_jsonl(path, TornTail::kDrop);
  if (prev.torn_tail_line) {
    log::warn("dropping a torn last line of generations.jsonl; it is generated again",
              {{"line", *prev.torn_tail_line}});
  }
  if (fs::file_size(path) != prev.valid_bytes) truncate_file(path, prev.valid_bytes);
  std::map<std::string, size_t> line_of;
  std::string kept;  // the file without failed samples' lines
  size_t retried = 0;
  for (auto& r : prev.records) {
    const json& v = r.value;
    const bool failed = v.is_object() && v.contains("generation_error");
    if (!v.is_object() || !v.contains("id") || !v["id"].is_string() || !v.contains("output") ||
        !(v["output"].is_string() || (failed && v["output"].is_null()))) {
      throw_invalid(path.string() + ":" + std::to_string(r.line) +
                    ": not a generation record (needs string 'id' and 'output')");
    }
    std::string id = v["id"].get<std::string>();
    if (auto [it, fresh] = line_of.emplace(id, r.line); !fresh) {
      throw_invalid(path.string() + ":" + std::to_string(r.line) + ": id '" + id +
                    "' is already on line " + std::to_string(it->second) +
                    "; each sample must be generated once (remove one of the lines, or rerun "
                    "with --overwrite)");
    }
    if (failed) {
      ++retried;
      continue;
    }
    kept += to_jsonl_line(v) + "\n";
    done[id] = std::move(r.value);
  }
  if (retried > 0) {
    log::info("asking again for the samples whose generation failed before",
              {{"samples", retried}});
    atomic_write(path, kept);
  }
}

// Appends results to generations.jsonl and fsyncs them in small groups.
class ResultWriter {
 public:
  explicit ResultWriter(const fs::path& path) : file_(path), last_sync_(Clock::now()) {}
  // Each result reaches the kernel before the next is taken: a crash of this process loses no
  // answer a server already sent (and was paid for); fsyncs go in groups.
  void append(const json& line) {
    file_.append_line(to_jsonl_line(line));
    file_.flush();
    auto now = Clock::now();
    if (++unsynced_ >= kSyncEveryResults ||
        std::chrono::duration<double>(now - last_sync_).count() >= kSyncEverySeconds) {
      sync();
      last_sync_ = now;
    }
  }
  void sync() {
    file_.sync();
    unsynced_ = 0;
  }

 private:
  AppendFile file_;
  size_t unsynced_ = 0;
  Clock::time_point last_sync_;
};

// The requests for the samples not generated yet; `prompts` decided.
std::vector<GenerateRequest> requests_for(const RunState& state, const std::vector<size_t>& pending,
                                          const PromptBuilder& prompts) {
  std::vector<GenerateRequest> requests;
  requests.reserve(pending.size());
  for (size_t i : pending) {
    const Sample& s = state.ds.samples[i];
    const std::string where = state.ds.path + ":" + std::to_string(s.line);
    std::string prompt;
    try {
      prompt = prompts.build(s.instruction, s.input, s.id);
    } catch (const inference::ChatTemplateError& e) {
      throw_invalid(where + ": sample '" + s.id + "': " +
                    (e.raised_by_template() ? "the chat template refused it: "
                                            : "the chat template failed: ") +
                    e.what());
    }
    GenerateRequest r{s.id, std::move(prompt), s.instruction, s.input, where, {}};
    if (prompts.is_server_chat()) r.messages = prompts.messages(s.instruction, s.input, s.id);
    requests.push_back(std::move(r));
  }
  return requests;
}

json count_or_null(const std::optional<size_t>& n) {
  return n ? json(*n) : json(nullptr);
}

// The generations.jsonl line of one result.
json result_line(GenerateResult& r, const GenerateRequest& request) {
  json line = {{"id", r.id}, {"prompt", request.prompt}};
  if (r.error.empty()) {
    line["output"] = std::move(r.text);
  } else {
    line["output"] = nullptr;
    line["generation_error"] = std::move(r.error);
  }
  line["finish_reason"] = r.finish_reason;
  line["prompt_tokens"] = count_or_null(r.prompt_tokens);
  line["completion_tokens"] = count_or_null(r.completion_tokens);
  return line;
}

// Runs the generator over `requests`, writing each result as it arrives.
size_t generate_all(RunState& state, Generator& generator,
                    const std::vector<GenerateRequest>& requests, size_t resumed) {
  std::map<std::string, const GenerateRequest*> by_id;
  for (const auto& r : requests) by_id[r.id] = &r;
  ResultWriter writer(state.folder->file("generations.jsonl"));
  const auto t0 = Clock::now();
  size_t finished = 0, new_tokens = 0;
  Progress progress("generation", state.ds.samples.size(), resumed);
  generator.generate(
      requests,
      [&](GenerateResult&& r) {
        const size_t completion = r.completion_tokens.value_or(0);
        json line = result_line(r, *by_id.at(r.id));
        writer.append(line);
        new_tokens += completion;
        state.generations[r.id] = std::move(line);
        ++finished;
        progress.update(resumed + finished,
                        {{"tokens_per_s", new_tokens / std::max(seconds_since(t0), 1e-9)}});
      },
      state.cancel);
  progress.finish();
  writer.sync();
  const double s = seconds_since(t0);
  state.timings["generate_s"] = s;
  if (!state.cancel->load()) {
    log::info("generation done", {{"samples", finished},
                                  {"seconds", s},
                                  {"completion_tokens", new_tokens},
                                  {"tokens_per_s", new_tokens / std::max(s, 1e-9)}});
  }
  return finished;
}

// Samples whose request failed for good stop the run (exit 4) before anything is scored: an
// answer that never came is not an empty answer. Their lines say why; a rerun asks again.
void fail_on_generation_errors(const RunState& state) {
  size_t failed = 0;
  std::string first;
  for (const auto& [id, g] : state.generations) {
    if (!g.contains("generation_error")) continue;
    if (failed++ == 0) first = "sample '" + id + "': " + g["generation_error"].get<std::string>();
  }
  if (failed == 0) return;
  const size_t total = state.ds.samples.size();
  const std::string saved = failed == total
                                ? "; a rerun asks for all of them again"
                                : "; the others are saved in generations.jsonl and a rerun asks "
                                  "only for the missing ones";
  throw Error(ErrorKind::kRemote, std::to_string(failed) + " of " + std::to_string(total) +
                                      " samples got no answer from the server (first: " + first +
                                      ")" + saved);
}

// The prompts of a run without prompt.template: the model's chat template (auto), a template
// file or a bundled format, with the system message and few-shot turns.
PromptBuilder chat_prompts(const RunState& state, Generator& generator) {
  const GenerationSettings& gen = state.settings.generation;
  ChatExtras extras = chat_extras_from(gen, state.settings.dataset, state.settings.fields);
  std::optional<fs::path> dir;
  if (gen.chat_format == "auto" || !gen.chat_template_file.empty())
    dir = generator.chat_template_dir();
  PromptBuilder prompts = chat_prompts_for(gen, extras, dir);
  // A served model with no local template to render: the server applies its own.
  if (gen.chat_format == "auto" && gen.chat_template_file.empty() && !dir &&
      generator.server_renders_chat()) {
    prompts = PromptBuilder::server_chat(extras);
  }
  if (prompts.description() == "alpaca" && (!extras.system.empty() || !extras.fewshot.empty())) {
    log::warn(
        "prompt.system and few-shot examples apply to chat prompts only; the Alpaca prompt ignores "
        "them");
  }
  log::info("prompt format", {{"format", prompts.description()}});
  return prompts;
}

}  // namespace

StageOutcome generate_stage(RunState& state, Generator& generator,
                            std::optional<PromptBuilder> prompts) {
  const auto t0 = Clock::now();
  const fs::path path = state.folder->file("generations.jsonl");
  std::error_code ec;
  if (!state.resuming) fs::remove(path, ec);
  if (state.resuming && fs::exists(path, ec)) read_previous(path, state.generations);
  std::vector<size_t> pending;
  for (size_t i = 0; i < state.ds.samples.size(); ++i) {
    if (!state.generations.count(state.ds.samples[i].id)) pending.push_back(i);
  }
  const size_t resumed = state.ds.samples.size() - pending.size();
  state.summary_extra["generation"] = {{"resumed", resumed}};
  state.timings["generate_s"] = 0.0;
  if (!pending.empty()) {
    if (!prompts) prompts = chat_prompts(state, generator);
    state.folder->update({{"prompt_format", prompts->description()}});
    std::vector<GenerateRequest> requests = requests_for(state, pending, *prompts);
    state.timings["load_s"] = seconds_since(t0);
    log::info("generating", {{"samples", pending.size()},
                             {"resumed", resumed},
                             {"max_new_tokens", state.settings.generation.max_new_tokens},
                             {"max_batch_size", state.settings.generation.max_batch_size}});
    // From here SIGINT/SIGTERM stop admitting samples and flush instead of killing the process.
    install_stop_signal_handlers();
    size_t finished = generate_all(state, generator, requests, resumed);
    if (state.cancel->load()) {
      log::warn("stopped by a signal; generations so far are saved, rerun to resume",
                {{"done", resumed + finished}, {"total", state.ds.samples.size()}});
      return StageOutcome::kStopped;
    }
  }
  fail_on_generation_errors(state);
  // Every sample now has an output.
  size_t prompt_tokens = 0, completion_tokens = 0, uncounted = 0;
  json finish_reasons = json::object();
  for (auto& s : state.ds.samples) {
    auto it = state.generations.find(s.id);
    if (it == state.generations.end()) {
      throw_internal("sample '" + s.id + "' has no generation after the generation stage");
    }
    const json& g = it->second;
    s.prediction = g["output"].get<std::string>();
    const json& pt = g.contains("prompt_tokens") ? g["prompt_tokens"] : json();
    const json& ct = g.contains("completion_tokens") ? g["completion_tokens"] : json();
    if (pt.is_number_unsigned()) prompt_tokens += pt.get<size_t>();
    if (ct.is_number_unsigned()) completion_tokens += ct.get<size_t>();
    if (!pt.is_number_unsigned() || !ct.is_number_unsigned()) ++uncounted;
    std::string fr = g.value("finish_reason", std::string("unknown"));
    finish_reasons[fr] = finish_reasons.value(fr, 0) + 1;
  }
  if (finish_reasons.contains("error")) {
    log::warn(
        "the model produced NaN or infinite logits for some samples; their answers stop "
        "there (finish_reason \"error\")",
        {{"samples", finish_reasons["error"]}});
  }
  json& summary = state.summary_extra["generation"];
  summary = generator.describe();
  summary.update({{"prompt_tokens", prompt_tokens},
                  {"completion_tokens", completion_tokens},
                  {"finish_reasons", finish_reasons},
                  {"resumed", resumed}});
  if (uncounted > 0) summary["samples_without_token_counts"] = uncounted;
  return StageOutcome::kDone;
}

}  // namespace assay::eval
