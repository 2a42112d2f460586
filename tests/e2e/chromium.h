// Headless Chromium (Debian `chromium`) for end-to-end checks of report.html: find the binary
// and load a page, returning the rendered DOM and the console messages it logged.
#pragma once

#include <filesystem>
#include <string>

#include "core/fs.h"
#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay::testing {

// The first of chromium, chromium-browser, google-chrome on PATH; "" when none.
inline std::string chromium_binary() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    auto r = run_command(std::string("command -v ") + name);
    if (r.exit_code == 0 && !r.output.empty()) return name;
  }
  return "";
}

struct Rendered {
  int exit_code = -1;
  std::string dom;      // --dump-dom: the DOM after load, serialised
  std::string console;  // the browser's log lines that carry page console messages
};

// Loads `html` in headless Chromium and returns the DOM and every console message it logged
// (an uncaught exception, a blocked resource, a CSP violation, console.log: all count).
inline Rendered render(const std::string& chromium, const std::filesystem::path& html,
                       const testing::TempDir& dir) {
  std::filesystem::path dom = dir / "dom.html", log = dir / "chromium.log";
  std::string cmd = "timeout 120 " + chromium +
                    " --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=" +
                    shell_quote((dir / "profile").string()) +
                    " --enable-logging=stderr --v=0 --dump-dom " +
                    shell_quote("file://" + std::filesystem::absolute(html).string()) + " >" +
                    shell_quote(dom.string()) + " 2>" + shell_quote(log.string());
  Rendered r;
  r.exit_code = run_command(cmd).exit_code;
  r.dom = std::filesystem::exists(dom) ? read_file(dom) : "";
  std::string all = std::filesystem::exists(log) ? read_file(log) : "";
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    if (end == std::string::npos) end = all.size();
    std::string line = all.substr(pos, end - pos);
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos) {
      r.console += line + "\n";
    }
    pos = end + 1;
  }
  return r;
}

}  // namespace assay::testing
