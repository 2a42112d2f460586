// report.md / report.html: content from a hand-written run folder (escaping, charts, the
// worst-samples table, the compare section) and the errors for folders that are not runs.
#include "eval/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "core/sha256.h"
#include "eval/report_charts.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {
using nlohmann::json;
using testing::TempDir;
namespace fs = std::filesystem;

const char* const kHostile = "<script>alert('x')</script> & \"q\" | `tick`";

// A run folder of 5 samples judged on accuracy and style (1-3) with squad_f1 and a corpus BLEU.
// Judge scores (accuracy, style): s1 (3,3) s2 (2,2) s3 (1,1) s4 (1,2) s5 judge error.
void write_run(const TempDir& dir) {
  json summary = {
      {"schema_version", 1},
      {"command", "run"},
      {"n_samples", 5},
      {"metrics",
       {{"squad_f1",
         {{"mean", 0.5}, {"n", 5}, {"stderr", 0.1}, {"ci_low", 0.25}, {"ci_high", 0.75}}},
        {"answer_words",
         {{"mean", 12.0}, {"n", 5}, {"stderr", 1}, {"ci_low", 10.0}, {"ci_high", 14.0}}}}},
      {"bootstrap",
       {{"resamples", 1000}, {"seed", 1234}, {"confidence", 0.95}, {"method", "percentile"}}},
      {"corpus", {{"bleu", {{"score", 21.5}, {"ci_low", 15.0}, {"ci_high", 28.0}}}}},
      {"judges",
       {{"accuracy",
         {{"mean", 1.75},
          {"ci_low", 1.0},
          {"ci_high", 2.5},
          {"n", 4},
          {"n_errors", 1},
          {"min", 1},
          {"max", 3},
          {"distribution", {{"1", 2}, {"2", 1}, {"3", 1}}}}},
        {"style",
         {{"mean", 2.0},
          {"ci_low", 1.25},
          {"ci_high", 2.75},
          {"n", 4},
          {"n_errors", 1},
          {"min", 1},
          {"max", 3},
          {"distribution", {{"1", 1}, {"2", 2}, {"3", 1}}}}}}},
      {"judge_usage",
       {{"provider", "dummy"},
        {"model", "dummy"},
        {"rubric", "handbook"},
        {"dummy", true},
        {"calls", 5},
        {"cache_hits", 0},
        {"retries", 0},
        {"prompt_tokens", 100},
        {"completion_tokens", 50},
        {"cost_usd", nullptr}}},
      {"generation",
       {{"prompt_tokens", 100}, {"completion_tokens", 40}, {"finish_reasons", {{"length", 5}}}}}};
  dir.write("summary.json", summary.dump(2));
  json manifest = {
      {"status", "completed"},
      {"command", "run"},
      {"config_hash", "abcdef0123456789abcdef"},
      {"model", {{"path", "models/stories260K"}, {"fingerprint", "f00dfeedbeef0000"}}},
      {"dataset",
       {{"path", "data/test.jsonl"}, {"sha256", "0123456789abcdef0123"}, {"n_samples", 5}}},
      {"versions", {{"assay", "0.1.0"}}},
      {"timings", {{"started_at", "2026-12-02T11:00:00Z"}}}};
  dir.write("manifest.json", manifest.dump(2));
  auto judged = [](int acc, int style, const std::string& why) {
    return json{{"accuracy", {{"score", acc}, {"analysis", "accuracy of " + why}}},
                {"style", {{"score", style}, {"analysis", "style of " + why}}}};
  };
  std::vector<json> lines = {
      {{"id", "s1"},
       {"metrics", {{"squad_f1", 1.0}, {"answer_words", 10}}},
       {"judges", judged(3, 3, "s1")}},
      {{"id", "s2"},
       {"metrics", {{"squad_f1", 0.5}, {"answer_words", 12}}},
       {"judges", judged(2, 2, "s2")}},
      {{"id", "s3"},
       {"metrics", {{"squad_f1", 0.0}, {"answer_words", 14}}},
       {"judges", judged(1, 1, kHostile)}},
      {{"id", "s4"},
       {"metrics", {{"squad_f1", 0.25}, {"answer_words", 11}}},
       {"judges", judged(1, 2, "s4")}},
      {{"id", "s5"},
       {"metrics", {{"squad_f1", 0.75}, {"answer_words", 13}}},
       {"judge_error",
        {{"reason", "http 503 after 7 attempts"}, {"kind", "http"}, {"attempts", 7}}}}};
  std::string scores, gens;
  for (const auto& l : lines) {
    scores += l.dump() + "\n";
    std::string id = l["id"];
    json g = {{"id", id},
              {"prompt", "p"},
              {"output", id == "s3" ? std::string(kHostile) : "answer of " + id},
              {"finish_reason", "length"}};
    gens += g.dump() + "\n";
  }
  dir.write("scores.jsonl", scores);
  dir.write("generations.jsonl", gens + "{\"id\": \"torn");  // an interrupted writer's tail
}

void write_compare(const TempDir& dir) {
  json compare = {{"schema_version", 1},
                  {"kind", "compare"},
                  {"a", {{"name", "sft<model>"}, {"path", "runs/a"}}},
                  {"b", {{"name", "base"}, {"path", "runs/b"}}},
                  {"n_paired", 5},
                  {"resamples", 1000},
                  {"seed", 1234},
                  {"metrics",
                   {{"squad_f1",
                     {{"a", 0.5},
                      {"b", 0.3},
                      {"diff", 0.2},
                      {"ci_low", 0.05},
                      {"ci_high", 0.35},
                      {"p_value", 0.01},
                      {"n", 5}}},
                    {"judge.accuracy",
                     {{"a", 1.75},
                      {"b", 2.0},
                      {"diff", -0.25},
                      {"ci_low", -1.0},
                      {"ci_high", 0.5},
                      {"p_value", 0.6},
                      {"n", 4}}}}}};
  dir.write("compare.json", compare.dump(2));
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

// The text between the first `from` and the next `to` after it.
std::string between(const std::string& s, const std::string& from, const std::string& to) {
  size_t a = s.find(from);
  if (a == std::string::npos) return "";
  size_t b = s.find(to, a + from.size());
  return s.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

std::vector<double> attr_values(const std::string& svg, const std::string& element,
                                const std::string& attr) {
  std::vector<double> out;
  std::regex re("<" + element + "[^>]*\\s" + attr + "=\"([-0-9.]+)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back(std::stod((*it)[1].str()));
  }
  return out;
}

TEST(ReportTest, WritesBothFilesAndEscapesEveryText) {
  TempDir dir;
  write_run(dir);
  write_reports(dir.path());
  std::string html = read_file(dir / "report.html");
  std::string md = read_file(dir / "report.md");
  // The hostile answer and rationale are shown, escaped, never as markup.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"),
            std::string::npos);
  EXPECT_EQ(md.find("<script"), std::string::npos);
  EXPECT_NE(md.find("&lt;script&gt;alert('x')&lt;/script&gt; &amp; \"q\" \\| \\`tick\\`"),
            std::string::npos);
  // Self-contained: no external resource can be referenced, and the CSP forbids any.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_FALSE(std::regex_search(html, std::regex("\\s(src|href)=")));
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  // The header facts.
  EXPECT_NE(md.find("| model | models/stories260K (fingerprint f00dfeedbeef) |"),
            std::string::npos);
  EXPECT_NE(html.find("dummy provider"), std::string::npos);
}

TEST(ReportTest, DrawsEveryChart) {
  TempDir dir;
  write_run(dir);
  write_reports(dir.path());
  std::string html = read_file(dir / "report.html");
  // metrics (0-1), answer_words (own scale), squad_f1 histogram, corpus, judge means, two
  // criterion histograms.
  EXPECT_EQ(count(html, "<svg"), 7u);
  EXPECT_EQ(count(html, "</svg>"), 7u);
  EXPECT_NE(html.find("aria-label=\"accuracy: score distribution\""), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"style: score distribution\""), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"Metrics (mean, 95% CI)\""), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"Corpus metrics (score, 95% CI)\""), std::string::npos);
}

TEST(ReportTest, HistogramBarHeightsFollowTheDistribution) {
  TempDir dir;
  write_run(dir);
  write_reports(dir.path());
  std::string html = read_file(dir / "report.html");
  std::string svg = between(html, "aria-label=\"accuracy: score distribution\"", "</svg>");
  std::vector<double> h = attr_values(svg, "rect", "height");
  ASSERT_EQ(h.size(), 3u);  // scores 1, 2, 3 with counts 2, 1, 1
  EXPECT_GT(h[0], 0);
  EXPECT_NEAR(h[1] / h[0], 0.5, 0.01);
  EXPECT_NEAR(h[2] / h[0], 0.5, 0.01);
  // Bars left to right in score order.
  std::vector<double> x = attr_values(svg, "rect", "x");
  ASSERT_EQ(x.size(), 3u);
  EXPECT_LT(x[0], x[1]);
  EXPECT_LT(x[1], x[2]);
}

TEST(ReportTest, WhiskersSpanTheConfidenceInterval) {
  TempDir dir;
  write_run(dir);
  write_reports(dir.path());
  std::string html = read_file(dir / "report.html");
  // squad_f1: mean 0.5, CI [0.25, 0.75] on a 0-1 axis: the dot sits midway between the whisker
  // ends, which sit at a quarter and three quarters of the axis.
  std::string svg = between(html, "aria-label=\"Metrics (mean, 95% CI)\"", "</svg>");
  std::vector<double> cx = attr_values(svg, "circle", "cx");
  ASSERT_EQ(cx.size(), 1u);
  std::regex axis_re(
      "<line x1=\"([-0-9.]+)\" y1=\"[-0-9.]+\" x2=\"([-0-9.]+)\" y2=\"[-0-9.]+\" class=\"axis\"");
  std::smatch axis;
  ASSERT_TRUE(std::regex_search(svg, axis, axis_re));
  double x0 = std::stod(axis[1]), x1 = std::stod(axis[2]);
  EXPECT_NEAR(cx[0], (x0 + x1) / 2, 0.1);
  std::regex whisker_re(
      "<line x1=\"([-0-9.]+)\" y1=\"([-0-9.]+)\" x2=\"([-0-9.]+)\" y2=\"([-0-9.]+)\" "
      "class=\"whisker\"");
  std::smatch w;
  ASSERT_TRUE(std::regex_search(svg, w, whisker_re));
  EXPECT_NEAR(std::stod(w[1]), x0 + (x1 - x0) * 0.25, 0.1);
  EXPECT_NEAR(std::stod(w[3]), x0 + (x1 - x0) * 0.75, 0.1);
}

TEST(ReportTest, WorstSamplesAreRankedByJudgeThenMetricWithRationales) {
  TempDir dir;
  write_run(dir);
  write_reports(dir.path());
  std::string html = read_file(dir / "report.html");
  std::string table = between(html, "<table class=\"worst\">", "</table>");
  ASSERT_FALSE(table.empty());
  // Judge score scaled to 0-1 and averaged: s3 0, s4 0.25, s2 0.5, s1 1; s5 has no judgment.
  size_t p3 = table.find("<td>s3</td>"), p4 = table.find("<td>s4</td>"),
         p2 = table.find("<td>s2</td>"), p1 = table.find("<td>s1</td>");
  ASSERT_NE(p3, std::string::npos);
  ASSERT_NE(p1, std::string::npos);
  EXPECT_LT(p3, p4);
  EXPECT_LT(p4, p2);
  EXPECT_LT(p2, p1);
  EXPECT_EQ(table.find("<td>s5</td>"), std::string::npos);
  EXPECT_NE(table.find("accuracy of s4"), std::string::npos);  // the rationale
  EXPECT_NE(table.find("answer of s4"), std::string::npos);    // the answer, from generations.jsonl
  EXPECT_NE(table.find("accuracy 1/3, style 2/3"), std::string::npos);
  // The judge error has its own table.
  EXPECT_NE(between(html, "id=\"judge-errors\"", "</table>").find("http 503 after 7 attempts"),
            std::string::npos);
  // Markdown: the same order.
  std::string md = read_file(dir / "report.md");
  std::string mtable = between(md, "## Worst samples", "## Judge errors");
  EXPECT_LT(mtable.find("| 1 | s3 |"), mtable.find("| 2 | s4 |"));
  EXPECT_NE(mtable.find("| 4 | s1 |"), std::string::npos);
}

TEST(ReportTest, WithoutJudgesWorstSamplesFollowThePrimaryMetric) {
  TempDir dir;
  dir.write("summary.json",
            json{{"schema_version", 1},
                 {"metrics", {{"exact_match", {{"mean", 0.5}}}, {"rougeL_f", {{"mean", 0.4}}}}}}
                .dump());
  dir.write("scores.jsonl",
            "{\"id\":\"a\",\"metrics\":{\"exact_match\":0,\"rougeL_f\":0.9}}\n"
            "{\"id\":\"b\",\"metrics\":{\"exact_match\":1,\"rougeL_f\":0.1}}\n"
            "{\"id\":\"c\",\"metrics\":{\"exact_match\":1,\"rougeL_f\":null}}\n");
  write_reports(dir.path());
  std::string md = read_file(dir / "report.md");
  // rougeL_f outranks exact_match as the ranking metric; c has no value and is not listed.
  EXPECT_NE(md.find("then rougeL_f"), std::string::npos);
  std::string rows = md.substr(md.find("## Worst samples"));
  EXPECT_LT(rows.find("| 1 | b |"), rows.find("| 2 | a |"));
  EXPECT_EQ(rows.find("| c |"), std::string::npos);
  EXPECT_EQ(read_file(dir / "report.html").find("id=\"compare\""), std::string::npos);
}

TEST(ReportTest, WorstSamplesShowQuestionReferenceAndAnswerFromAnUnchangedDataset) {
  // `evaluate score` has no generations.jsonl: the answers come from the dataset, found through
  // the manifest, and only while its SHA-256 is the one recorded.
  TempDir dir;
  fs::path data =
      dir.write("data.jsonl",
                "{\"id\": \"a\", \"instruction\": \"What is <b>2+2</b>?\", "
                "\"output\": \"4\", \"prediction\": \"five\"}\n"
                "{\"id\": \"b\", \"instruction\": \"Capital of France?\", "
                "\"input\": \"one word\", \"output\": \"Paris\", \"prediction\": \"Paris\"}\n");
  json manifest = {
      {"command", "score"},
      {"dataset", {{"path", data.string()}, {"sha256", sha256_file(data)}}},
      {"config", {{"fields", {{"prediction", "prediction"}, {"reference", "output"}}}}}};
  dir.write("manifest.json", manifest.dump());
  dir.write("summary.json", json{{"metrics", {{"squad_f1", {{"mean", 0.5}}}}}}.dump());
  dir.write(
      "scores.jsonl",
      "{\"id\":\"a\",\"metrics\":{\"squad_f1\":0}}\n{\"id\":\"b\",\"metrics\":{\"squad_f1\":1}}\n");
  write_reports(dir.path());
  std::string table =
      between(read_file(dir / "report.html"), "<table class=\"worst\">", "</table>");
  EXPECT_NE(table.find("<th>question</th><th>reference</th><th>answer</th>"), std::string::npos);
  EXPECT_NE(table.find("<td class=\"text\">What is &lt;b&gt;2+2&lt;/b&gt;?</td><td "
                       "class=\"text\">4</td><td class=\"text\">five</td>"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("Capital of France?\n\none word"), std::string::npos);
  std::string md = read_file(dir / "report.md");
  EXPECT_NE(md.find("| 1 | a |  | 0 | What is &lt;b&gt;2+2&lt;/b&gt;? | 4 | five |"),
            std::string::npos)
      << md;

  // The dataset changed since the run: its rows are not trusted.
  std::ofstream(data, std::ios::app) << "\n";
  write_reports(dir.path());
  table = between(read_file(dir / "report.html"), "<table class=\"worst\">", "</table>");
  EXPECT_EQ(table.find("<th>question</th>"), std::string::npos);
  EXPECT_EQ(table.find("five"), std::string::npos);
}

TEST(ReportTest, ComparisonSectionWhenCompareJsonExists) {
  TempDir dir;
  write_run(dir);
  write_compare(dir);
  write_reports(dir.path());
  std::string html = read_file(dir / "report.html");
  std::string section = html.substr(html.find("id=\"compare\""));
  EXPECT_NE(section.find("Comparison: sft&lt;model&gt; vs base"), std::string::npos);
  // Two groups on their own axes: per-sample metrics and judge scores.
  EXPECT_NE(section.find("aria-label=\"Differences, per-sample metrics (A \u2212 B, CI)\""),
            std::string::npos);
  EXPECT_NE(section.find("aria-label=\"Differences, judge scores (A \u2212 B, CI)\""),
            std::string::npos);
  // squad_f1's CI [0.05, 0.35] excludes 0: highlighted; judge.accuracy's does not.
  std::string diff = between(section, "per-sample metrics (A", "</svg>");
  EXPECT_NE(diff.find("class=\"point hl\""), std::string::npos);
  std::string judge = between(section, "judge scores (A", "</svg>");
  EXPECT_EQ(judge.find("hl\""), std::string::npos);
  EXPECT_NE(judge.find("class=\"zero\""), std::string::npos);
  std::string md = read_file(dir / "report.md");
  EXPECT_NE(md.find("| squad_f1 | 0.5 | 0.3 | 0.2 * | [0.05, 0.35] | 0.01 | 5 |"),
            std::string::npos);
  EXPECT_NE(md.find("| judge.accuracy | 1.75 | 2 | -0.25 | [-1, 0.5] | 0.6 | 4 |"),
            std::string::npos);
}

TEST(ReportTest, CompareFolderWithoutSummary) {
  TempDir dir;
  write_compare(dir);
  write_reports(dir.path());
  std::string html = read_file(dir / "report.html");
  EXPECT_NE(html.find("id=\"compare\""), std::string::npos);
  EXPECT_EQ(html.find("id=\"metrics\""), std::string::npos);
  EXPECT_EQ(count(html, "<svg"), 2u);
}

TEST(ReportTest, ErrorsNameTheFolderOrFile) {
  TempDir dir;
  try {
    write_reports(dir.path());
    FAIL() << "expected an error for a folder without summary.json";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("neither summary.json nor compare.json"),
              std::string::npos);
  }
  dir.write("summary.json", "{\"metrics\": ");
  try {
    write_reports(dir.path());
    FAIL() << "expected an error for a broken summary.json";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("summary.json: not valid JSON"), std::string::npos);
  }
  dir.write("summary.json", "{}");
  dir.write("scores.jsonl", "{\"id\": \"a\"}\nnot json\n{\"id\": \"b\"}\n");
  try {
    write_reports(dir.path());
    FAIL() << "expected an error for a broken scores.jsonl";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("scores.jsonl:2"), std::string::npos);
  }
}

TEST(ReportChartsTest, FormatsAndEscapes) {
  EXPECT_EQ(charts::html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  EXPECT_EQ(charts::format_number(0.5), "0.5");
  EXPECT_EQ(charts::format_number(3.0), "3");
  EXPECT_EQ(charts::format_number(0.123456), "0.1235");
  EXPECT_EQ(charts::format_number(std::nullopt), "n/a");
  EXPECT_EQ(charts::format_number(std::numeric_limits<double>::quiet_NaN()), "n/a");
}

}  // namespace
}  // namespace assay::eval
