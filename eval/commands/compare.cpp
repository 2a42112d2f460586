// `evaluate compare RUN_A RUN_B`: a paired comparison of two run folders, then the gates.
#include <filesystem>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "eval/commands/command.h"
#include "eval/commands/config_flags.h"
#include "eval/compare.h"
#include "eval/gates.h"
#include "eval/report.h"

namespace assay::eval {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct CompareCommandOptions {
  CompareOptions compare;
  fs::path output;        // folder for compare.json; "" = RUN_A's folder
  ConfigSources sources;  // -c CONFIG (bootstrap.*, gates) and EVAL_GATES
};

// compare_runs, then <output>/compare.json written atomically (refusing, without --force, to
// replace a compare.json of a different pair), the table, and the gates. Returns 0 or 3.
int run_compare(CompareCommandOptions options, std::ostream& out) {
  ResolvedConfig cfg = resolve_config(options.sources);
  std::vector<Gate> gates = gates_from_config(cfg);
  auto& bs = options.compare.bootstrap;
  long long resamples = cfg.get_int("bootstrap.resamples");
  if (resamples < 0 || resamples > 1000000) {
    throw_invalid("bootstrap.resamples (from " + cfg.origin("bootstrap.resamples") +
                  ") must be 0..1000000");
  }
  bs.resamples = static_cast<int>(resamples);
  bs.seed = static_cast<std::uint64_t>(cfg.get_int("bootstrap.seed"));
  bs.confidence = cfg.get_number("bootstrap.confidence");
  if (!(bs.confidence > 0 && bs.confidence < 1)) {
    throw_invalid("bootstrap.confidence (from " + cfg.origin("bootstrap.confidence") +
                  ") must be in (0, 1)");
  }
  fs::path out_dir = options.output.empty() ? options.compare.run_a : options.output;
  json comparison = compare_runs(options.compare);

  fs::path file = out_dir / "compare.json";
  std::error_code ec;
  if (fs::exists(file, ec) && !options.compare.force) {
    json old;
    try {
      old = json::parse(read_file(file));
    } catch (const json::exception&) {
    }
    auto path_of = [](const json& doc, const char* side) {
      return doc.is_object() && doc.contains(side) ? doc[side].value("path", "") : "";
    };
    if (path_of(old, "a") != path_of(comparison, "a") ||
        path_of(old, "b") != path_of(comparison, "b")) {
      throw_invalid(file.string() + " compares other runs (" + path_of(old, "a") + " vs " +
                    path_of(old, "b") + "); pass --force to replace it, or choose another -o");
    }
  }
  fs::create_directories(out_dir, ec);
  if (ec) throw_io(out_dir.string() + ": cannot create: " + ec.message());
  atomic_write(file, comparison.dump(2) + "\n");
  try {  // derived files: a failure is worth a warning, not the comparison
    write_reports(out_dir);
  } catch (const std::exception& e) {
    log::warn("could not write report.md / report.html", {{"error", e.what()}});
  }
  print_comparison(comparison, out);
  out << "-> " << file.string() << "\n";
  return report_gates(evaluate_gates(gates, out_dir), out);
}

class CompareCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* compare = app.add_subcommand(
        "compare",
        "Compare two runs sample by sample: per-metric A-B with paired-bootstrap CIs "
        "and p-values; writes compare.json, then checks the config's gates");
    compare->add_option("run_a", options_.compare.run_a, "Run folder of model A")->required();
    compare->add_option("run_b", options_.compare.run_b, "Run folder of model B")->required();
    compare->add_option("--output,-o", options_.output, "Folder for compare.json (default: RUN_A)");
    compare->add_option("--metrics,-m", metrics_,
                        "Comma-separated: metric names, judge[.NAME], corpus[.NAME] (default: "
                        "all both runs have)");
    compare->add_option("--config,-c", config_,
                        "Config with bootstrap.* and gates (env EVAL_CONFIG, EVAL_GATES)");
    compare->add_flag("--force", options_.compare.force,
                      "Compare runs that are not completed; replace a compare.json of another "
                      "pair");
    return compare;
  }
  int run(std::ostream& out) override {
    options_.sources = config_file_sources(config_);
    options_.compare.metrics = split_commas(metrics_);
    return run_compare(options_, out);
  }

 private:
  CompareCommandOptions options_;
  std::string config_, metrics_;
};

}  // namespace

std::unique_ptr<Command> make_compare_command() {
  return std::make_unique<CompareCommand>();
}

}  // namespace assay::eval
