// `evaluate report DIR`: rewrites report.md and report.html of a run (or compare) folder, holding
// the folder's lock (a run working there is not raced).
#include <filesystem>
#include <optional>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "eval/commands/command.h"
#include "eval/report.h"

namespace assay::eval {
namespace {

class ReportCommand final : public Command {
 public:
  CLI::App* add_to(CLI::App& app) override {
    CLI::App* report = app.add_subcommand(
        "report", "Rewrite report.md and report.html of a run (or compare) folder from its files");
    report->add_option("dir", dir_, "Run folder")->required();
    return report;
  }
  int run(std::ostream& out) override {
    std::optional<FolderLock> lock;
    std::error_code ec;
    if (std::filesystem::is_directory(dir_, ec)) lock.emplace(dir_);  // else write_reports says
    write_reports(dir_);
    out << "Wrote " << (std::filesystem::path(dir_) / "report.md").string() << " and "
        << (std::filesystem::path(dir_) / "report.html").string() << "\n";
    return kExitOk;
  }

 private:
  std::string dir_;
};

}  // namespace

std::unique_ptr<Command> make_report_command() {
  return std::make_unique<ReportCommand>();
}

}  // namespace assay::eval
