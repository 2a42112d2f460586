// Progress: rate and ETA from a fake clock, lines every few seconds when not on a terminal, a
// throttled bar on a terminal, and resumed items excluded from the rate.
#include "core/progress.h"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/log.h"

namespace assay {
namespace {
using nlohmann::json;

// Captures log lines as JSON objects for the test's lifetime.
class LogCapture {
 public:
  LogCapture() {
    log::configure(log::Level::kInfo, log::Format::kJson);
    log::set_sink_for_testing(&sink_);
  }
  ~LogCapture() {
    log::set_sink_for_testing(nullptr);
    log::configure(log::Level::kInfo, log::Format::kAuto);
  }
  std::vector<json> lines() const {
    std::vector<json> out;
    std::istringstream in(sink_);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }

 private:
  std::string sink_;
};

TEST(ProgressTest, FormatsDurations) {
  EXPECT_EQ(format_duration(0), "0:00:00");
  EXPECT_EQ(format_duration(59.6), "0:01:00");
  EXPECT_EQ(format_duration(3 * 3600 + 25 * 60 + 7), "3:25:07");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "?");
}

TEST(ProgressTest, RateAndEtaExcludeResumedItems) {
  double t = 0;
  ProgressOptions o;
  o.mode = ProgressMode::kOff;
  o.clock = [&t] { return t; };
  Progress p("generation", 100, 40, o);  // 40 done by an earlier attempt
  ProgressState s0 = p.state();
  EXPECT_EQ(s0.done, 40u);
  EXPECT_EQ(s0.rate, 0);
  EXPECT_FALSE(s0.eta_s.has_value());
  t = 10;
  p.update(60);  // 20 new items in 10 s: 2/s; 40 left: 20 s
  ProgressState s = p.state();
  EXPECT_EQ(s.done, 60u);
  EXPECT_DOUBLE_EQ(s.rate, 2.0);
  ASSERT_TRUE(s.eta_s.has_value());
  EXPECT_DOUBLE_EQ(*s.eta_s, 20.0);
  p.advance(40);
  EXPECT_EQ(p.state().done, 100u);
  EXPECT_DOUBLE_EQ(*p.state().eta_s, 0.0);
}

TEST(ProgressTest, LinesEveryIntervalAndAFinalLine) {
  LogCapture capture;
  double t = 0;
  ProgressOptions o;
  o.mode = ProgressMode::kLines;
  o.every_s = 5;
  o.clock = [&t] { return t; };
  {
    Progress p("judging", 10, 0, o);
    for (int i = 1; i <= 10; ++i) {
      t = i * 1.5;  // updates every 1.5 s: a line at 6 s (5 s after the start) and 12 s
      p.update(i, {{"tokens_per_s", 7.5}});
    }
  }  // the destructor writes the final line
  std::vector<json> lines = capture.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["msg"], "judging progress");
  EXPECT_EQ(lines[0]["stage"], "judging");
  EXPECT_EQ(lines[0]["done"], 4);  // t = 6 s
  EXPECT_EQ(lines[0]["total"], 10);
  EXPECT_DOUBLE_EQ(lines[0]["rate"].get<double>(), 4 / 6.0);
  EXPECT_DOUBLE_EQ(lines[0]["eta_s"].get<double>(), 6 / (4 / 6.0));
  EXPECT_EQ(lines[0]["eta"], "0:00:09");
  EXPECT_DOUBLE_EQ(lines[0]["tokens_per_s"].get<double>(), 7.5);
  EXPECT_EQ(lines[1]["done"], 8);  // t = 12 s
  EXPECT_EQ(lines[2]["done"], 10);
  EXPECT_EQ(lines[2]["finished"], true);
  EXPECT_DOUBLE_EQ(lines[2]["percent"].get<double>(), 100.0);
}

TEST(ProgressTest, BarIsThrottledAndShowsCountsRateAndEta) {
  LogCapture capture;
  double t = 0;
  std::string bar;
  ProgressOptions o;
  o.mode = ProgressMode::kBar;
  o.clock = [&t] { return t; };
  o.bar_sink = &bar;
  Progress p("generation", 4, 0, o);
  t = 0.05;
  p.update(1);  // within 0.1 s of the start: not drawn
  EXPECT_EQ(bar, "");
  t = 2;
  p.update(2);  // 2 items in 2 s: 1/s, 2 left
  EXPECT_EQ(bar, "generation [############............] 2/4 50%  1.00 samples/s  ETA 0:00:02\n");
  bar.clear();
  t = 2.01;
  p.update(4);  // the last item is always drawn
  EXPECT_NE(bar.find("4/4 100%"), std::string::npos);
  p.finish();
  p.finish();  // idempotent: one final line
  EXPECT_EQ(capture.lines().size(), 1u);
}

TEST(ProgressTest, OffWhenInfoLogsAreOff) {
  std::string sink;
  log::set_sink_for_testing(&sink);
  log::configure(log::Level::kWarn, log::Format::kJson);
  {
    ProgressOptions o;
    o.mode = ProgressMode::kLines;
    o.every_s = 0;
    Progress p("scoring", 3, 0, o);
    p.update(1);
    p.update(3);
  }
  log::set_sink_for_testing(nullptr);
  log::configure(log::Level::kInfo, log::Format::kAuto);
  EXPECT_EQ(sink, "");
}

}  // namespace
}  // namespace assay
