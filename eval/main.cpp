// `evaluate`: registers the commands (eval/commands/), parses the flags with CLI11, runs the
// chosen command and maps the outcome to an exit code (0 ok, 2 bad input, 3 gate failed,
// 4 runtime failure, 130/143 signals).
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "eval/commands/command.h"

int main(int argc, char** argv) {
  namespace eval = assay::eval;
  CLI::App app{
      "Assay: evaluate fine-tuned language models.\n"
      "Exit codes: 0 ok, 2 bad input or config, 3 a CI gate failed, 4 runtime failure "
      "(a rerun resumes), 130/143 stopped by a signal.",
      "evaluate"};
  app.set_version_flag("--version", std::string("evaluate (assay) ") + assay::kVersion);
  std::string log_level;
  std::string log_format = "auto";
  app.add_option("--log-level", log_level, "debug, info, warn, error, off (env ASSAY_LOG_LEVEL)");
  app.add_option("--log-format", log_format,
                 "auto (human on a terminal, JSON lines otherwise), human, json")
      ->check(CLI::IsMember({"auto", "human", "json"}));
  app.fallthrough();  // --log-level and --log-format may also follow the subcommand
  app.require_subcommand(1);

  std::unique_ptr<eval::Command> commands[] = {
      eval::make_score_command(),   eval::make_run_command(),      eval::make_merge_command(),
      eval::make_compare_command(), eval::make_gate_command(),     eval::make_tokenize_command(),
      eval::make_inspect_command(), eval::make_generate_command(), eval::make_report_command(),
      eval::make_serve_command(),
  };
  std::vector<std::pair<CLI::App*, eval::Command*>> parsed;
  for (auto& c : commands) {
    CLI::App* sub = c->add_to(app);
    sub->footer("Also accepted here: --log-level, --log-format (see evaluate --help).");
    parsed.emplace_back(sub, c.get());
  }

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
    for (auto& [sub, command] : parsed) {
      if (sub->parsed()) return command->run(std::cout);
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
