// The length-controlled win rate against AlpacaEval's formula reimplemented with numpy/scipy
// (tests/scoring/lc_winrate_reference.py) and against hand-derived limits.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "scoring/lc_winrate.h"

namespace assay::scoring {
namespace {

constexpr double kNa = std::numeric_limits<double>::quiet_NaN();

// A judge that likes long answers: A wins mostly when it is longer. Deterministic, no RNG.
struct Case {
  std::vector<double> pref, len_a, len_b;
};
Case biased_case() {
  Case c;
  for (int i = 0; i < 60; ++i) {
    const double la = 200 + 53 * (i % 11), lb = 300 + 17 * (i % 7);
    c.len_a.push_back(la);
    c.len_b.push_back(lb);
    const bool longer = la > lb;
    const int r = (i * 7) % 10;  // a fixed pseudo-random pattern in 0..9
    double p = longer ? (r < 7 ? 1.0 : r < 9 ? 0.5 : 0.0) : (r < 3 ? 1.0 : r < 5 ? 0.5 : 0.0);
    if (i == 13) p = kNa;  // a judge error: left out
    c.pref.push_back(p);
  }
  return c;
}

std::string run_reference(const Case& c) {
  nlohmann::json doc = {{"len_a", c.len_a}, {"len_b", c.len_b}};
  doc["preference"] = nlohmann::json::array();
  for (double p : c.pref)
    doc["preference"].push_back(std::isnan(p) ? nlohmann::json() : nlohmann::json(p));
  const auto dir = std::filesystem::temp_directory_path();
  const auto in = dir / ("lc_in_" + std::to_string(::getpid()) + ".json");
  const auto out = dir / ("lc_out_" + std::to_string(::getpid()) + ".json");
  std::ofstream(in) << doc.dump();
  const std::string script =
      std::string(std::getenv("ASSAY_SOURCE_DIR") ? std::getenv("ASSAY_SOURCE_DIR") : ".") +
      "/tests/scoring/lc_winrate_reference.py";
  const std::string cmd =
      "/usr/bin/python3 " + script + " < " + in.string() + " > " + out.string() + " 2>/dev/null";
  const int rc = std::system(cmd.c_str());
  std::ifstream f(out);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::filesystem::remove(in);
  std::filesystem::remove(out);
  return rc == 0 ? text : "";
}

TEST(LcWinRateTest, MatchesNumpyReimplementationOfAlpacaEval) {
  if (std::system("/usr/bin/python3 -c 'import numpy, scipy' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "needs /usr/bin/python3 with numpy and scipy (apt-get install -y "
                    "python3-numpy python3-scipy)";
  }
  const Case c = biased_case();
  const std::string text = run_reference(c);
  ASSERT_FALSE(text.empty()) << "reference script failed";
  const auto ref = nlohmann::json::parse(text);
  const auto fit = lc_win_rate(c.pref, c.len_a, c.len_b);
  ASSERT_TRUE(fit.has_value());
  EXPECT_EQ(fit->n, 59u);
  EXPECT_NEAR(fit->intercept, ref["intercept"].get<double>(), 1e-6);
  EXPECT_NEAR(fit->length_coef, ref["length_coef"].get<double>(), 1e-6);
  EXPECT_NEAR(fit->win_rate, ref["win_rate"].get<double>(), 1e-7);
  EXPECT_GT(fit->length_coef, 0.5);  // the judge's length preference is found
}

// Equal lengths: the feature is 0, so t1 = 0 and t0 solves n (sigmoid(t0) - mean(y)) + t0 / C
// = 0; with n = 10 and C = 100 the rate is within 0.01 of the raw (tie = half) win rate 0.65
// and pulled toward 0.5.
TEST(LcWinRateTest, EqualLengthsGiveTheRawWinRate) {
  const std::vector<double> pref = {1, 1, 1, 1, 1, 0.5, 0, 0, 0, 1};
  const std::vector<double> len(10, 100.0);
  const auto fit = lc_win_rate(pref, len, len);
  ASSERT_TRUE(fit.has_value());
  EXPECT_NEAR(fit->length_coef, 0.0, 1e-12);
  EXPECT_LT(fit->win_rate, 0.65);
  EXPECT_GT(fit->win_rate, 0.64);
  const double t0 = fit->intercept;
  EXPECT_NEAR(10 * (1 / (1 + std::exp(-t0)) - 0.65) + t0 / 100, 0.0, 1e-9);
}

TEST(LcWinRateTest, BootstrapIntervalBracketsThePoint) {
  const Case c = biased_case();
  const auto fit = lc_win_rate(c.pref, c.len_a, c.len_b);
  const BootstrapDraws draws(c.pref.size(), BootstrapOptions{200, 7, 0.95});
  const Interval ci = lc_win_rate_ci(c.pref, c.len_a, c.len_b, draws, fit->win_rate);
  EXPECT_LT(ci.low, fit->win_rate);
  EXPECT_GT(ci.high, fit->win_rate);
  EXPECT_GT(ci.high - ci.low, 0.05);  // 59 samples cannot pin a rate to +-2.5 points
  EXPECT_FALSE(lc_win_rate(std::vector<double>{1}, std::vector<double>{1}, std::vector<double>{2})
                   .has_value());
}

}  // namespace
}  // namespace assay::scoring
