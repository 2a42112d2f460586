// report.html end to end: `evaluate score` writes it, `evaluate report DIR` rewrites it, and
// headless Chromium (Debian `chromium`) loads it with no console message and with the SVG charts
// in the rendered DOM. Skips, saying why, when chromium is not installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/fs.h"
#include "tests/e2e/chromium.h"
#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using testing::chromium_binary;
using testing::render;
using testing::Rendered;
using testing::run_command;
using testing::shell_quote;

const char* kDataset =
    "{\"id\": \"s1\", \"instruction\": \"q1\", \"output\": \"The cat sat.\", \"prediction\": \"the "
    "cat sat\"}\n"
    "{\"id\": \"s2\", \"instruction\": \"q2\", \"output\": \"the red ball\", \"prediction\": \"a "
    "big red ball\"}\n"
    "{\"id\": \"<script>alert(1)</script>\", \"instruction\": \"q3\", \"output\": \"Paris\", "
    "\"prediction\": \"Paris!\"}\n"
    "{\"id\": \"s4\", \"instruction\": \"q4\", \"output\": \"Paris\", \"prediction\": "
    "\"<img src=x onerror=alert(2)>London\"}\n";

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

TEST(ReportE2eTest, ScoreWritesReportsAndReportCommandRewritesThem) {
  testing::TempDir dir;
  fs::path data = dir.write("data.jsonl", kDataset), out = dir / "run";
  auto r = run_command(shell_quote(ASSAY_EVALUATE_BIN) + " score --dataset " +
                       shell_quote(data.string()) + " --output " + shell_quote(out.string()) +
                       " --metrics squad,rouge --judge-provider dummy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fs::exists(out / "report.md"));
  ASSERT_TRUE(fs::exists(out / "report.html"));
  std::string first = read_file(out / "report.html");
  EXPECT_EQ(first.find("<script>alert"), std::string::npos);
  EXPECT_NE(first.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  // The answers come from the dataset (evaluate score writes no generations.jsonl).
  EXPECT_NE(first.find("&lt;img src=x onerror=alert(2)&gt;London"), std::string::npos);

  fs::remove(out / "report.html");
  fs::remove(out / "report.md");
  r = run_command(shell_quote(ASSAY_EVALUATE_BIN) + " report " + shell_quote(out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The first report was written with the scores, before the manifest said `completed`: the
  // header may differ now, the results may not.
  std::string second = read_file(out / "report.html");
  auto results = [](const std::string& html) {
    return html.substr(html.find("<h2 id=\"metrics\">"));
  };
  EXPECT_EQ(results(second), results(first)) << "the same files give the same results";
  EXPECT_NE(second.find("<th>status</th><td>completed</td>"), std::string::npos);
  EXPECT_TRUE(fs::exists(out / "report.md"));

  r = run_command(shell_quote(ASSAY_EVALUATE_BIN) + " report " +
                  shell_quote((dir / "nope").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no such run folder"), std::string::npos) << r.output;
}

TEST(ReportE2eTest, ChromiumLoadsTheReportWithoutErrorsAndDrawsTheCharts) {
  std::string chromium = chromium_binary();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (Debian package `chromium`)";
  testing::TempDir dir;
  fs::path data = dir.write("data.jsonl", kDataset), out = dir / "run";
  auto r = run_command(shell_quote(ASSAY_EVALUATE_BIN) + " score --dataset " +
                       shell_quote(data.string()) + " --output " + shell_quote(out.string()) +
                       " --metrics squad,rouge --judge-provider dummy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string html = read_file(out / "report.html");
  size_t charts = count(html, "<svg");
  ASSERT_GE(charts, 4u);  // metrics, a histogram, judge means, one per criterion

  Rendered page = render(chromium, out / "report.html", dir);
  ASSERT_EQ(page.exit_code, 0) << "chromium failed";
  EXPECT_EQ(page.console, "") << "the page logged console messages";
  // The parsed DOM holds every chart, each with its marks, and the worst-samples table.
  EXPECT_EQ(count(page.dom, "<svg"), charts);
  EXPECT_EQ(count(page.dom, "</svg>"), charts);
  EXPECT_GE(count(page.dom, "<rect class=\"bar\""), 3u);
  EXPECT_GE(count(page.dom, "<circle class=\"point"), 3u);
  EXPECT_NE(page.dom.find("aria-label=\"accuracy: score distribution\""), std::string::npos);
  EXPECT_NE(page.dom.find("<table class=\"worst\">"), std::string::npos);
  // The hostile sample id stayed text: no script element came out of it.
  EXPECT_EQ(page.dom.find("<script"), std::string::npos);
  EXPECT_EQ(page.dom.find("<img"), std::string::npos);
  EXPECT_NE(page.dom.find("&lt;img src=x onerror=alert(2)&gt;London"), std::string::npos);
}

TEST(ReportE2eTest, TheConsoleCheckCatchesABrokenPage) {
  // The check above is only worth something if it sees errors: a page with an uncaught exception
  // and a blocked network image must produce console lines.
  std::string chromium = chromium_binary();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (Debian package `chromium`)";
  testing::TempDir dir;
  fs::path bad =
      dir.write("bad.html",
                "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
                "<svg width=\"10\" height=\"10\"><rect width=\"5\" height=\"5\"/></svg>"
                "<img src=\"https://example.invalid/x.png\"><script>undefined_function();</script>"
                "</body></html>");
  Rendered page = render(chromium, bad, dir);
  ASSERT_EQ(page.exit_code, 0);
  EXPECT_NE(page.console.find("Uncaught ReferenceError"), std::string::npos) << page.console;
  EXPECT_NE(page.console.find("example.invalid"), std::string::npos) << page.console;
}

}  // namespace
}  // namespace assay
