// evalctl: launch the evaluation as a SageMaker Processing job, an AWS Batch job or on this
// machine, idempotently. Thin main: flags → options → the backend --backend names (backend.h)
// → its verb → exit code.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "core/error.h"
#include "core/log.h"
#include "eval/submit/backend.h"
#include "eval/submit/batch.h"

namespace {

using namespace assay::submit;

std::filesystem::path default_cache_dir() {
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache && *cache)
    return std::filesystem::path(cache) / "assay/evalctl";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".cache/assay/evalctl";
  return std::filesystem::temp_directory_path() / "assay-evalctl";
}

// What the command line said, before a backend is built.
struct Args {
  BackendArgs backend;
  std::string backend_name = backends().front().name;
  std::string spec_path, job, dest;
  ListQuery list;
  std::map<std::string, std::string> flag_values;  // every backend's flags, by name
  std::string queue;                               // `queue Q`
  bool queue_table = false;
};

// --backend and every backend's own flags that `command` takes.
void add_backend_flags(CLI::App* command, Args& args) {
  std::vector<std::string> names;
  for (const auto& b : backends()) names.push_back(b.name);
  command->add_option("--backend", args.backend_name, "where the job runs")
      ->check(CLI::IsMember(names));
  for (const auto& b : backends()) {
    for (const auto& flag : b.flags) {
      const auto& cmds = flag.commands;
      if (std::find(cmds.begin(), cmds.end(), command->get_name()) == cmds.end()) continue;
      command->add_option(flag.name, args.flag_values[flag.name],
                          "--backend " + b.name + ": " + flag.help);
    }
  }
}

// The selected backend's flags that were given; another backend's flag is refused.
std::map<std::string, std::string> given_flags(const CLI::App* command, const Args& args) {
  std::vector<std::string> given;
  for (const auto& [name, value] : args.flag_values) {
    if (command->get_option_no_throw(name) != nullptr && command->count(name) > 0)
      given.push_back(name);
  }
  refuse_foreign_flags(args.backend_name, given);
  std::map<std::string, std::string> out;
  for (const auto& name : given) out[name] = args.flag_values.at(name);
  return out;
}

int run_command(const CLI::App* command, Args& args) {
  args.backend.flags = given_flags(command, args);
  std::unique_ptr<Backend> backend = find_backend(args.backend_name).make(args.backend);
  const std::string& verb = command->get_name();
  if (verb == "submit") return backend->submit(load_job_spec(args.spec_path), args.spec_path);
  if (verb == "status") return backend->status(args.job);
  if (verb == "wait") return backend->wait(args.job);
  if (verb == "stop") return backend->stop(args.job);
  if (verb == "list") return backend->list(args.list);
  if (verb == "logs") return backend->logs(args.job);
  if (verb == "results") return backend->results(args.job, args.dest);
  assay::throw_internal("no verb for command " + verb);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "evalctl: run Assay's evaluation as a SageMaker Processing job, an AWS Batch job "
      "or on this machine, idempotently."};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug|info|warn|error|off");
  Args args;
  args.backend.cache_dir = default_cache_dir();
  SubmitOptions& options = args.backend.options;
  options.lock_dir = args.backend.cache_dir;

  CLI::App* submit =
      app.add_subcommand("submit", "Submit JOB.json (describe first; never starts a job twice)");
  submit->add_option("job", args.spec_path, "job spec JSON")->required();
  submit->add_flag("--wait", options.wait, "follow the job until it ends");
  submit->add_flag("--dry-run", options.dry_run,
                   "make no call; print each request as one JSON line");
  submit->add_flag("--retry-failed", options.retry_failed,
                   "start <name>-rN when the last attempt Failed/Stopped");
  submit->add_flag("--allow-plaintext-secrets", options.allow_plaintext_secrets,
                   "allow secret-like environment values in the job (visible to Describe*)");
  submit->add_option("--poll-s", options.poll_s, "seconds between status polls with --wait");
  std::vector<CLI::App*> commands = {submit};
  const std::pair<const char*, const char*> kByName[] = {
      {"status", "Print a job's status"},
      {"wait", "Follow a job until it ends (exit 0 when it succeeded, 4 otherwise)"},
      {"stop", "Stop a job"},
      {"logs", "Print a job's logs"}};
  for (const auto& [verb, help] : kByName) {
    CLI::App* c = app.add_subcommand(verb, help);
    c->add_option("name", args.job, "job name")->required();
    commands.push_back(c);
  }
  CLI::App* wait = app.get_subcommand("wait");
  wait->add_option("--poll-s", options.poll_s, "seconds between polls");
  wait->add_option("--timeout-s", options.wait_timeout_s, "give up after this long (0 = never)");
  CLI::App* results = app.add_subcommand("results", "Download a job's results into DEST");
  results->add_option("name", args.job, "job name")->required();
  results->add_option("dest", args.dest, "local folder")->required();
  CLI::App* list = app.add_subcommand("list", "List jobs");
  list->add_option("--name-contains", args.list.name_contains, "substring of the job name");
  list->add_option("--status", args.list.status, "one state, in the backend's names");
  list->add_option("--max", args.list.max_results, "at most this many (1..100)")
      ->check(CLI::Range(1, 100));
  commands.push_back(results);
  commands.push_back(list);
  for (CLI::App* c : commands) add_backend_flags(c, args);
  CLI::App* queue = app.add_subcommand(
      "queue", "AWS Batch: per share, what queue Q runs now and what it will run next");
  queue->add_option("queue", args.queue, "job queue name or ARN")->required();
  queue->add_flag("--table", args.queue_table, "a text table instead of JSON lines");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : assay::kExitBadInput;
  }
  try {
    assay::log::configure(assay::log::parse_level(log_level, "--log-level"));
    if (queue->parsed()) return run_batch_queue_command(args.queue, args.queue_table, std::cout);
    for (CLI::App* c : commands) {
      if (c->parsed()) return run_command(c, args);
    }
  } catch (const assay::Error& e) {
    assay::log::error(e.what(), {{"kind", assay::error_kind_name(e.kind())}});
    return e.exit_code();
  } catch (const std::exception& e) {
    assay::log::error(std::string("unexpected error: ") + e.what());
    return assay::kExitRuntime;
  }
  return assay::kExitOk;
}
