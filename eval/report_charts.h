// Inline SVG charts for report.html: histograms (bar charts) and dot-with-whisker interval charts.
// Each function returns one self-contained <svg> element (no scripts, no external references)
// whose text is HTML-escaped, so it can be pasted into an HTML document as is.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace assay::eval::charts {

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view text);

// One bar of a histogram: a category label ("1", "win") and its count.
struct Bar {
  std::string label;
  double value = 0;
};

// A vertical bar chart with one bar per category, its value written above it, and `title` as
// the chart's caption and accessible name. An empty `bars` gives a chart that says "no data".
std::string bar_chart_svg(std::string_view title, const std::vector<Bar>& bars);

// One row of an interval chart: a point estimate with an optional interval (a CI).
struct Interval {
  std::string label;
  std::optional<double> value;   // nullopt: drawn as "n/a"
  std::optional<double> lo, hi;  // whisker ends; both or neither
  bool highlight = false;        // drawn in the accent colour (e.g. a CI that excludes 0)
};

struct IntervalChartOptions {
  std::optional<double> domain_lo;  // x axis from; empty: from the data (and 0)
  std::optional<double> domain_hi;  // x axis to; empty: from the data
  bool zero_line = false;           // draw a reference line at 0 (differences)
  bool symmetric = false;           // make the domain symmetric around 0 (differences)
};

// A horizontal chart: one row per interval, a dot at the value and whiskers from lo to hi, with
// a labelled x axis. Non-finite numbers are treated as missing.
std::string interval_chart_svg(std::string_view title, const std::vector<Interval>& rows,
                               const IntervalChartOptions& options = {});

// Formats a number for display: up to 4 significant decimals, "n/a" for nullopt or non-finite.
std::string format_number(std::optional<double> v);

}  // namespace assay::eval::charts
