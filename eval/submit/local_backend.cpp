#include "eval/submit/local_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "eval/submit/aws_client.h"
#include "eval/submit/backend.h"
#include "eval/submit/job_lock.h"
#include "eval/submit/job_output.h"

extern char** environ;

namespace assay::submit {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kOptMl = "/opt/ml/";

// Child pids of the hosts now running, for the signal handler to forward SIGINT/SIGTERM to.
constexpr int kMaxHosts = 100;
volatile sig_atomic_t g_child_count = 0;
volatile pid_t g_children[kMaxHosts];
volatile sig_atomic_t g_stop_signal = 0;

extern "C" void forward_signal(int sig) {
  g_stop_signal = sig;
  for (int i = 0; i < g_child_count; ++i) {
    if (g_children[i] > 0) ::kill(g_children[i], sig);
  }
}

fs::path job_dir(const LocalOptions& local, const std::string& name) {
  return local.jobs_dir / name;
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void write_state(const LocalOptions& local, const std::string& name, const json& state) {
  atomic_write(job_dir(local, name) / "state.json", state.dump(2) + "\n");
}

bool pid_alive(long pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

json status_line(const json& state, const std::string& action) {
  json line = {{"job", state.value("job", std::string())},
               {"status", state.value("status", std::string())},
               {"backend", "local"},
               {"results", state.value("results", std::string())}};
  if (!action.empty()) line["action"] = action;
  if (state.contains("failure_reason")) line["failure_reason"] = state["failure_reason"];
  if (state.contains("host_exit_codes")) line["host_exit_codes"] = state["host_exit_codes"];
  return line;
}

// The host path of a container path under /opt/ml/ inside `root`.
fs::path in_root(const fs::path& root, const std::string& container_path) {
  if (container_path.rfind(kOptMl, 0) != 0) return root / container_path;
  return root / container_path.substr(std::strlen(kOptMl));
}

fs::path absolute_source(const JobSpec& spec, const JobInput& input) {
  fs::path p(input.source);
  return fs::absolute(p.is_absolute() ? p : spec.base_dir / p).lexically_normal();
}

void replace_with_symlink(const fs::path& link, const fs::path& target) {
  std::error_code ec;
  fs::remove_all(link, ec);
  fs::create_directories(link.parent_path());
  fs::create_symlink(target, link);
}

// Downloads an input's objects into `dest` once (a ".complete" marker says it is done).
void fetch_input(S3& s3, const std::string& uri, const fs::path& dest) {
  if (fs::exists(dest / ".complete")) return;
  if (download_prefix(s3, uri, dest) == 0)
    throw_not_found(uri + ": no objects under this S3 prefix");
  atomic_write(dest / ".complete", "");
}

// Copies the tree `from` into `to` (a local folder or an s3:// prefix ending in '/').
int deliver_tree(S3* s3, const fs::path& from, const std::string& to) {
  int count = 0;
  if (!fs::exists(from)) return 0;
  for (const auto& entry : fs::recursive_directory_iterator(from)) {
    if (!entry.is_regular_file()) continue;
    std::string rel = fs::relative(entry.path(), from).generic_string();
    if (to.rfind("s3://", 0) == 0) {
      if (s3 == nullptr)
        throw_invalid("output '" + to + "' is an s3:// URI but no S3 client is set up");
      S3Uri base = parse_s3_uri(to);
      s3->put_file({base.bucket, base.key + rel}, entry.path());
    } else {
      fs::path dest = fs::path(to) / rel;
      fs::create_directories(dest.parent_path());
      fs::copy_file(entry.path(), dest, fs::copy_options::overwrite_existing);
    }
    ++count;
  }
  return count;
}

// Shard folders (shard-<i>-of-<n>) a host wrote under its output folder, at most two levels down.
std::vector<fs::path> shard_folders(const fs::path& output) {
  std::vector<fs::path> found;
  if (!fs::exists(output)) return found;
  for (auto it = fs::recursive_directory_iterator(output); it != fs::recursive_directory_iterator();
       ++it) {
    if (!it->is_directory()) continue;
    std::string name = it->path().filename().string();
    if (name.rfind("shard-", 0) == 0 && name.find("-of-") != std::string::npos) {
      found.push_back(it->path());
      it.disable_recursion_pending();
    } else if (it.depth() >= 1) {
      it.disable_recursion_pending();
    }
  }
  return found;
}

std::string first_kb(const fs::path& file) {
  if (!fs::exists(file)) return {};
  std::string text = read_file(file);
  if (text.size() > 1024) text.resize(1024);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Spawns `argv` with `env`, stdout and stderr appended to `log_file`. Returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const fs::path& log_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw_io("cannot start '" + argv[0] + "': " + std::strerror(rc));
  return pid;
}

// Waits for every pid; returns their exit codes (128 + signal when killed).
std::vector<int> wait_all(const std::vector<pid_t>& pids) {
  std::vector<int> codes(pids.size(), -1);
  size_t left = pids.size();
  while (left > 0) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (size_t i = 0; i < pids.size(); ++i) {
      if (pids[i] != pid) continue;
      codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      --left;
      for (int k = 0; k < g_child_count; ++k) {
        if (g_children[k] == pid) g_children[k] = 0;
      }
    }
  }
  return codes;
}

std::vector<std::string> child_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    std::string key = kv.substr(0, kv.find('='));
    if (!overrides.count(key)) env.push_back(kv);
  }
  for (const auto& [k, v] : overrides) env.push_back(k + "=" + v);
  return env;
}

struct HostPlan {
  std::string host;
  fs::path root;
  fs::path output;  // the host's output folder (output_local_path inside its root)
  std::vector<std::string> env;
};

// Builds each host's root: inputs linked in, resourceconfig.json, processingjobconfig.json.
std::vector<HostPlan> prepare_hosts(const JobSpec& spec, const std::string& name,
                                    const std::string& spec_hash, S3* s3, const fs::path& dir) {
  int n = static_cast<int>(spec.instance_count);
  std::vector<std::string> hosts;
  for (int k = 1; k <= n; ++k) hosts.push_back("algo-" + std::to_string(k));

  // Where each input comes from on this machine, and the path the container sees.
  std::map<std::string, fs::path> sources;
  std::map<std::string, std::string> paths, uris;
  for (const auto& input : spec.inputs) {
    paths[input.name] = input.local_path;
    if (input.source.rfind("s3://", 0) == 0) {
      if (s3 == nullptr) throw_invalid("input '" + input.name + "' is s3:// but S3 is not set up");
      fs::path cache = dir / "inputs" / input.name;
      fetch_input(*s3, input.source, cache);
      sources[input.name] = cache;
      uris[input.name] = input.source;
    } else {
      fs::path p = absolute_source(spec, input);
      if (!fs::exists(p))
        throw_not_found("inputs." + input.name + ": '" + p.string() + "' does not exist");
      sources[input.name] = p;
      uris[input.name] = "file://" + p.string();
      if (fs::is_regular_file(p))
        paths[input.name] = input.local_path + "/" + p.filename().string();
    }
  }
  json request = build_create_request(spec, name, spec_hash, uris, paths);
  auto env = container_environment(spec, paths);

  std::vector<HostPlan> plans;
  for (int k = 0; k < n; ++k) {
    HostPlan plan;
    plan.host = hosts[k];
    plan.root = dir / "roots" / plan.host;
    for (const auto& input : spec.inputs) {
      const fs::path& src = sources.at(input.name);
      fs::path where = in_root(plan.root, input.local_path);
      if (fs::is_regular_file(src)) {
        fs::create_directories(where);
        replace_with_symlink(where / src.filename(), src);
      } else {
        replace_with_symlink(where, src);
      }
    }
    json resource = {
        {"current_host", plan.host}, {"hosts", hosts}, {"network_interface_name", "eth0"}};
    atomic_write(plan.root / "config/resourceconfig.json", resource.dump(2) + "\n");
    atomic_write(plan.root / "config/processingjobconfig.json", request.dump(2) + "\n");
    plan.output = in_root(plan.root, spec.output_local_path);
    fs::create_directories(plan.output);
    fs::create_directories(plan.root / "output");
    std::map<std::string, std::string> overrides;
    for (const auto& [k2, v] : env) {
      overrides[k2] = v.rfind(kOptMl, 0) == 0 ? in_root(plan.root, v).string() : v;
    }
    overrides["SM_ROOT"] = plan.root.string();
    plan.env = child_environment(overrides);
    plans.push_back(std::move(plan));
  }
  return plans;
}

// Runs the job in `dir` to the end; updates state.json. Returns the exit code.
int run_job(const JobSpec& spec, const std::string& name, const std::string& spec_hash, S3* s3,
            const LocalOptions& local, json state, const std::string& action, std::ostream& out) {
  fs::path dir = job_dir(local, name);
  auto fail = [&](const std::string& reason) {
    state["status"] = "Failed";
    state["failure_reason"] = reason;
    state["ended"] = now_iso();
    write_state(local, name, state);
    out << status_line(state, action).dump() << "\n";
    log::error("local job failed", {{"job", name}, {"reason", reason}});
    return kExitRuntime;
  };
  std::vector<HostPlan> plans;
  try {
    plans = prepare_hosts(spec, name, spec_hash, s3, dir);
  } catch (const Error& e) {
    return fail(e.what());
  }
  if (!spec.entrypoint.empty()) {
    log::warn("the local backend runs `evaluate run`; the spec's entrypoint is ignored");
  }
  fs::create_directories(dir / "logs");

  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  g_stop_signal = 0;
  g_child_count = 0;

  std::vector<pid_t> pids;
  for (const auto& plan : plans) {
    std::vector<std::string> argv = {local.evaluate_bin.string(), "run"};
    argv.insert(argv.end(), spec.arguments.begin(), spec.arguments.end());
    pid_t pid = spawn(argv, plan.env, dir / "logs" / (plan.host + ".log"));
    g_children[g_child_count] = pid;
    g_child_count = g_child_count + 1;
    pids.push_back(pid);
    log::info("host started", {{"job", name},
                               {"host", plan.host},
                               {"pid", pid},
                               {"log", (dir / "logs" / (plan.host + ".log")).string()}});
  }
  std::vector<int> codes = wait_all(pids);
  g_child_count = 0;
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  state["host_exit_codes"] = json::object();
  for (size_t i = 0; i < plans.size(); ++i) state["host_exit_codes"][plans[i].host] = codes[i];

  if (g_stop_signal != 0) {
    int sig = g_stop_signal;
    state["status"] = "Stopped";
    state["ended"] = now_iso();
    write_state(local, name, state);
    out << status_line(state, action).dump() << "\n";
    log::warn("local job stopped; submit again with --retry-failed to resume it",
              {{"job", name}, {"signal", sig}});
    return 128 + sig;
  }
  for (size_t i = 0; i < plans.size(); ++i) {
    if (codes[i] == 0) continue;
    std::string reason = first_kb(plans[i].root / "output/message");
    if (reason.empty()) {
      reason = "host " + plans[i].host + " exited with code " + std::to_string(codes[i]) +
               "; see " + (dir / "logs" / (plans[i].host + ".log")).string();
    }
    return fail(plans[i].host + ": " + reason);
  }

  std::string results = state.value("results", std::string());
  int files = 0;
  try {
    for (const auto& plan : plans) files += deliver_tree(s3, plan.output, results);
    if (plans.size() > 1) {
      std::vector<std::string> argv = {local.evaluate_bin.string(), "merge", "--overwrite",
                                       "--output", (dir / "merged").string()};
      size_t shards = 0;
      for (const auto& plan : plans) {
        for (const auto& f : shard_folders(plan.output)) {
          argv.push_back(f.string());
          ++shards;
        }
      }
      if (shards != plans.size()) {
        return fail("expected " + std::to_string(plans.size()) + " shard folders, found " +
                    std::to_string(shards));
      }
      pid_t pid = spawn(argv, child_environment({}), dir / "logs" / "merge.log");
      int code = wait_all({pid})[0];
      if (code != 0) {
        return fail("evaluate merge exited with code " + std::to_string(code) + "; see " +
                    (dir / "logs" / "merge.log").string());
      }
      files += deliver_tree(s3, dir / "merged", results + "merged/");
    }
  } catch (const Error& e) {
    return fail(std::string("delivering results: ") + e.what());
  }
  state["status"] = "Completed";
  state["ended"] = now_iso();
  state["files"] = files;
  write_state(local, name, state);
  out << status_line(state, action).dump() << "\n";
  log::info("local job completed", {{"job", name}, {"results", results}, {"files", files}});
  return kExitOk;
}

}  // namespace

fs::path default_evaluate_bin() {
  if (const char* env = std::getenv("ASSAY_EVALUATE_BIN"); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& candidate :
         {self.parent_path() / "evaluate", self.parent_path().parent_path() / "evaluate"}) {
      if (fs::is_regular_file(candidate)) return candidate;
    }
  }
  return "evaluate";
}

std::optional<json> local_job_state(const LocalOptions& local, const std::string& name) {
  fs::path file = job_dir(local, name) / "state.json";
  if (!fs::exists(file)) return std::nullopt;
  try {
    return json::parse(read_file(file));
  } catch (const json::exception& e) {
    throw_invalid(file.string() + ": not valid JSON (" + e.what() + ")");
  }
}

int run_local_submit(const JobSpec& spec, const std::string& origin, S3* s3,
                     const SubmitOptions& options, const LocalOptions& local, std::ostream& out) {
  validate_job_spec(spec, origin, options.allow_plaintext_secrets, /*local_backend=*/true);
  for (const auto& [k, v] : spec.environment) {
    if (is_secret_env_name(k) && !v.empty()) log::register_secret(v);
  }
  if (spec.instance_count > kMaxHosts) throw_invalid(origin + ": instance_count is above 100");
  SpecIdentity id = spec_identity(spec);
  std::string base = job_name(spec.name_prefix, id.hash, 1);

  std::string name, action;
  json state;
  {
    JobLock lock(options.lock_dir, base);
    int attempt = 0;
    std::optional<json> latest;
    for (int a = 1; a <= 99; ++a) {
      auto s = local_job_state(local, job_name(spec.name_prefix, id.hash, a));
      if (!s) break;
      attempt = a;
      latest = s;
    }
    if (latest) {
      std::string status = latest->value("status", std::string());
      std::string latest_name = latest->value("job", base);
      if (status == "Completed") {
        out << status_line(*latest, "already-completed").dump() << "\n";
        return kExitOk;
      }
      if (status == "InProgress" && pid_alive(latest->value("pid", 0L))) {
        out << status_line(*latest, "attached").dump() << "\n";
        return options.wait ? wait_for_local_job(local, latest_name, options, out) : kExitOk;
      }
      if (status == "InProgress") {  // its runner died: resume in place
        name = latest_name;
        action = "resumed";
      } else if (!options.retry_failed) {
        out << status_line(*latest, "not-retried").dump() << "\n";
        log::error(
            "the last attempt of this job did not complete; pass --retry-failed to start a new "
            "attempt (it resumes the previous attempt's work)",
            {{"job", latest_name}, {"status", status}});
        return kExitRuntime;
      } else {
        name = job_name(spec.name_prefix, id.hash, attempt + 1);
        action = "created";
        // Carry the previous attempt's host roots over, so evaluate resumes what it had done.
        fs::path old_roots = job_dir(local, latest_name) / "roots";
        if (fs::exists(old_roots)) {
          fs::create_directories(job_dir(local, name));
          fs::rename(old_roots, job_dir(local, name) / "roots");
        }
      }
    } else {
      name = base;
      action = "created";
    }
    std::string results = spec.output;
    if (!results.empty() && results.back() != '/') results += '/';
    results += name + "/";
    if (results.rfind("s3://", 0) != 0) {  // a local folder, relative to the spec's folder
      fs::path p(results);
      results = fs::absolute(p.is_absolute() ? p : spec.base_dir / p).lexically_normal().string();
    }
    state = {{"job", name},
             {"status", "InProgress"},
             {"backend", "local"},
             {"pid", static_cast<long>(::getpid())},
             {"hosts", spec.instance_count},
             {"spec_sha256", id.hash},
             {"results", results},
             {"started", now_iso()}};
    fs::create_directories(job_dir(local, name));
    write_state(local, name, state);
  }
  log::info(
      "local job running",
      {{"job", name}, {"hosts", spec.instance_count}, {"folder", job_dir(local, name).string()}});
  return run_job(spec, name, id.hash, s3, local, state, action, out);
}

int wait_for_local_job(const LocalOptions& local, const std::string& name,
                       const SubmitOptions& options, std::ostream& out) {
  SubmitOptions poll = options;
  poll.poll_s = std::min(options.poll_s, 1.0);  // a local state file is cheap to read
  return follow_job(
      [&] {
        auto state = local_job_state(local, name);
        if (!state) throw_not_found("local job '" + name + "' does not exist");
        std::string status = state->value("status", std::string());
        bool running = status == "InProgress" && pid_alive(state->value("pid", 0L));
        return JobObservation{status_line(*state, ""), !running, status == "Completed"};
      },
      poll, out);
}

int print_local_status(const LocalOptions& local, const std::string& name, std::ostream& out) {
  auto state = local_job_state(local, name);
  if (!state)
    throw_not_found("local job '" + name + "' does not exist in " + local.jobs_dir.string());
  json s = *state;
  if (s.value("status", "") == "InProgress" && !pid_alive(s.value("pid", 0L))) {
    s["note"] = "its runner is gone; submit again to resume it";
  }
  json line = status_line(s, "");
  if (s.contains("note")) line["note"] = s["note"];
  out << line.dump() << "\n";
  return kExitOk;
}

int list_local_jobs(const LocalOptions& local, const ListQuery& query, std::ostream& out) {
  if (!fs::exists(local.jobs_dir)) return kExitOk;
  std::vector<json> states;
  for (const auto& entry : fs::directory_iterator(local.jobs_dir)) {
    if (!entry.is_directory()) continue;
    auto s = local_job_state(local, entry.path().filename().string());
    if (!s) continue;
    if (!query.status.empty() && s->value("status", "") != query.status) continue;
    if (s->value("job", "").find(query.name_contains) == std::string::npos) continue;
    states.push_back(*s);
  }
  std::sort(states.begin(), states.end(), [](const json& a, const json& b) {
    return a.value("started", std::string()) > b.value("started", std::string());
  });
  if (states.size() > static_cast<size_t>(std::max(query.max_results, 0)))
    states.resize(static_cast<size_t>(std::max(query.max_results, 0)));
  for (const auto& s : states) out << status_line(s, "").dump() << "\n";
  return kExitOk;
}

namespace {

json existing_state(const LocalOptions& local, const std::string& name) {
  auto state = local_job_state(local, name);
  if (!state)
    throw_not_found("local job '" + name + "' does not exist in " + local.jobs_dir.string());
  return *state;
}

}  // namespace

int print_local_logs(const LocalOptions& local, const std::string& name, std::ostream& out) {
  existing_state(local, name);
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(job_dir(local, name) / "logs", ec)) {
    if (entry.path().extension() == ".log") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::string stream = name + "/" + file.stem().string();  // as CloudWatch names them
    std::string text = read_file(file);
    for (size_t pos = 0; pos < text.size();) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      out << stream << " " << text.substr(pos, end - pos) << "\n";
      pos = end + 1;
    }
  }
  return kExitOk;
}

int copy_local_results(const LocalOptions& local, S3* s3, const std::string& name,
                       const fs::path& dest, std::ostream& out) {
  json state = existing_state(local, name);
  std::string from = state.value("results", std::string());
  int files = 0;
  if (from.rfind("s3://", 0) == 0) {
    if (s3 == nullptr) throw_invalid("the results are in " + from + " but no S3 client is set up");
    files = download_prefix(*s3, from, dest);
  } else if (!from.empty() && fs::is_directory(from)) {
    files = deliver_tree(nullptr, from, dest.string());
  }
  if (files == 0) {
    throw_not_found("local job '" + name + "' (" + state.value("status", "?") +
                    ") has no results in '" + from + "'");
  }
  out << json{{"job", name}, {"files", files}, {"dest", dest.string()}}.dump() << "\n";
  return kExitOk;
}

int stop_local_job(const LocalOptions& local, const std::string& name, std::ostream& out) {
  auto state = local_job_state(local, name);
  if (!state)
    throw_not_found("local job '" + name + "' does not exist in " + local.jobs_dir.string());
  long pid = state->value("pid", 0L);
  if (state->value("status", "") == "InProgress" && pid_alive(pid)) {
    ::kill(static_cast<pid_t>(pid), SIGTERM);
    out << status_line(*state, "stopping").dump() << "\n";
    return kExitOk;
  }
  out << status_line(*state, "not-running").dump() << "\n";
  return kExitOk;
}

namespace {

class LocalBackend final : public Backend {
 public:
  explicit LocalBackend(const BackendArgs& args) : args_(args) {
    local_.jobs_dir = args.cache_dir / "local";
    if (auto it = args.flags.find("--local-jobs-dir"); it != args.flags.end())
      local_.jobs_dir = it->second;
    auto it = args.flags.find("--evaluate");
    local_.evaluate_bin = it == args.flags.end() ? default_evaluate_bin() : fs::path(it->second);
  }

  int submit(const JobSpec& spec, const std::string& origin) override {
    if (args_.options.dry_run) {
      assay::throw_invalid(
          "--dry-run is not available with --backend local (it makes no AWS call)");
    }
    validate_job_spec(spec, origin, args_.options.allow_plaintext_secrets, true);
    // S3 is needed only when an input or the output is an s3:// URI.
    bool needs_s3 = spec.output.rfind("s3://", 0) == 0;
    for (const auto& input : spec.inputs) needs_s3 |= input.source.rfind("s3://", 0) == 0;
    return run_local_submit(spec, origin, needs_s3 ? s3() : nullptr, args_.options, local_,
                            *args_.out);
  }
  int status(const std::string& name) override {
    return print_local_status(local_, name, *args_.out);
  }
  int wait(const std::string& name) override {
    return wait_for_local_job(local_, name, args_.options, *args_.out);
  }
  int stop(const std::string& name) override { return stop_local_job(local_, name, *args_.out); }
  int list(const ListQuery& query) override { return list_local_jobs(local_, query, *args_.out); }
  int logs(const std::string& name) override { return print_local_logs(local_, name, *args_.out); }
  int results(const std::string& name, const fs::path& dest) override {
    auto state = local_job_state(local_, name);
    bool in_s3 = state && state->value("results", "").rfind("s3://", 0) == 0;
    return copy_local_results(local_, in_s3 ? s3() : nullptr, name, dest, *args_.out);
  }

 private:
  // An S3 client from the environment, made on first use (only s3:// inputs or outputs need it).
  S3* s3() {
    if (!s3_) {
      aws_ = connect_aws_from_env();
      s3_ = std::make_unique<S3>(aws_.client.get(), nullptr);
    }
    return s3_.get();
  }

  BackendArgs args_;
  LocalOptions local_;
  AwsConnection aws_;
  std::unique_ptr<S3> s3_;
};

}  // namespace

BackendInfo local_backend_info() {
  return {"local",
          "this machine, emulating SageMaker Processing (one evaluate process per host)",
          {{"--evaluate",
            "the evaluate binary (default: next to evalctl, $ASSAY_EVALUATE_BIN, or PATH)",
            {"submit"}},
           {"--local-jobs-dir", "where job folders live (default ~/.cache/assay/evalctl/local)",
            all_commands()}},
          make_backend<LocalBackend>};
}

}  // namespace assay::submit
