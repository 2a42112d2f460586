// A subcommand of `evaluate`: it declares its own flags and help on the CLI11 app, and runs once
// they are parsed. `main` only lists the commands (make_*_command below) and maps errors to exit
// codes. Commands compose the library (plan, stages, reports); no command calls another.
#pragma once

#include <memory>
#include <ostream>

namespace CLI {
class App;
}

namespace assay::eval {

class Command {
 public:
  virtual ~Command() = default;
  // Adds the subcommand, its flags and help to `app`; returns it.
  virtual CLI::App* add_to(CLI::App& app) = 0;
  // Runs the parsed command; returns the exit code (0, 3 for a failed gate, 130/143 when
  // stopped). Throws assay::Error for bad input (exit 2) or a runtime failure (exit 4).
  virtual int run(std::ostream& out) = 0;
};

std::unique_ptr<Command> make_run_command();
std::unique_ptr<Command> make_score_command();
std::unique_ptr<Command> make_merge_command();
std::unique_ptr<Command> make_compare_command();
std::unique_ptr<Command> make_gate_command();
std::unique_ptr<Command> make_report_command();
std::unique_ptr<Command> make_tokenize_command();
std::unique_ptr<Command> make_inspect_command();
std::unique_ptr<Command> make_generate_command();
std::unique_ptr<Command> make_serve_command();

}  // namespace assay::eval
