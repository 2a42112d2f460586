#include "eval/report_charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace assay::eval::charts {

namespace {

constexpr double kWidth = 640;

std::string num(double v) {  // an SVG coordinate
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

bool finite(const std::optional<double>& v) {
  return v && std::isfinite(*v);
}

// A "nice" tick step (1, 2 or 5 times a power of ten) for about `target` ticks over `range`.
double nice_step(double range, int target) {
  if (!(range > 0) || !std::isfinite(range)) return 1;
  double raw = range / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double r = raw / mag;
  double step = r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10;
  return step * mag;
}

std::string open_svg(std::string_view title, double width, double height) {
  std::string t = html_escape(title);
  return "<figure class=\"chart\"><svg class=\"chart\" role=\"img\" aria-label=\"" + t +
         "\" width=\"" + num(width) + "\" height=\"" + num(height) + "\" viewBox=\"0 0 " +
         num(width) + " " + num(height) + "\"><title>" + t + "</title>";
}

std::string close_svg(std::string_view title) {
  return "</svg><figcaption>" + html_escape(title) + "</figcaption></figure>\n";
}

std::string text(double x, double y, std::string_view s, std::string_view anchor = "middle",
                 std::string_view cls = "") {
  std::string out =
      "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + std::string(anchor) + "\"";
  if (!cls.empty()) out += " class=\"" + std::string(cls) + "\"";
  return out + ">" + html_escape(s) + "</text>";
}

std::string line(double x1, double y1, double x2, double y2, std::string_view cls) {
  return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
         num(y2) + "\" class=\"" + std::string(cls) + "\"/>";
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_number(std::optional<double> v) {
  if (!finite(v)) return "n/a";
  char buf[32];
  double a = std::fabs(*v);
  if (a != 0 && (a >= 1e6 || a < 1e-4)) {
    std::snprintf(buf, sizeof buf, "%.3e", *v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4f", *v);
    // Trim trailing zeros ("0.5000" -> "0.5", "3.0000" -> "3").
    std::string s = buf;
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    if (s == "-0") s = "0";
    return s;
  }
  return buf;
}

std::string bar_chart_svg(std::string_view title, const std::vector<Bar>& bars) {
  const double height = 220, top = 24, bottom = 34, left = 40, right = 16;
  // Narrow for a few bars (a 1-3 rubric), up to the full width for many.
  const double width =
      std::clamp(left + right + 64.0 * static_cast<double>(bars.size()), 240.0, kWidth);
  const double plot_h = height - top - bottom, plot_w = width - left - right;
  std::string out = open_svg(title, width, height);
  if (bars.empty()) {
    out += text(width / 2, height / 2, "no data", "middle", "muted");
    return out + close_svg(title);
  }
  double max_v = 0;
  for (const auto& b : bars) max_v = std::max(max_v, std::isfinite(b.value) ? b.value : 0.0);
  if (max_v <= 0) max_v = 1;
  double slot = plot_w / static_cast<double>(bars.size());
  double bar_w = std::max(2.0, slot * 0.7);
  out += line(left, top + plot_h, left + plot_w, top + plot_h, "axis");
  for (size_t i = 0; i < bars.size(); ++i) {
    double v = std::isfinite(bars[i].value) ? std::max(0.0, bars[i].value) : 0.0;
    double h = plot_h * v / max_v;
    double x = left + slot * static_cast<double>(i) + (slot - bar_w) / 2;
    double y = top + plot_h - h;
    out += "<rect class=\"bar\" x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(bar_w) +
           "\" height=\"" + num(h) + "\"><title>" + html_escape(bars[i].label) + ": " +
           format_number(bars[i].value) + "</title></rect>";
    out += text(x + bar_w / 2, y - 4, format_number(bars[i].value), "middle", "value");
    out += text(x + bar_w / 2, top + plot_h + 16, bars[i].label);
  }
  return out + close_svg(title);
}

std::string interval_chart_svg(std::string_view title, const std::vector<Interval>& rows,
                               const IntervalChartOptions& options) {
  const double row_h = 26, top = 12, bottom = 36, left = 180, right = 90;
  const double height =
      top + bottom + row_h * static_cast<double>(std::max<size_t>(rows.size(), 1));
  const double plot_w = kWidth - left - right;
  // Domain: the data (values and whiskers), widened to the options, then to nice ticks.
  // Without an explicit lower end the axis starts at 0 (or below, for negative data).
  double lo = options.domain_lo ? *options.domain_lo : 0.0;
  double hi = options.domain_hi ? *options.domain_hi : lo;
  for (const auto& r : rows) {
    for (const auto& v : {r.value, r.lo, r.hi}) {
      if (!finite(v)) continue;
      lo = std::min(lo, *v);
      hi = std::max(hi, *v);
    }
  }
  if (options.symmetric) {
    double m = std::max(std::fabs(lo), std::fabs(hi));
    lo = -m;
    hi = m;
  }
  if (!(hi > lo)) hi = lo + 1;
  double step = nice_step(hi - lo, 5);
  if (!options.domain_lo || lo < *options.domain_lo) lo = std::floor(lo / step) * step;
  if (!options.domain_hi || hi > *options.domain_hi) hi = std::ceil(hi / step) * step;
  auto x_of = [&](double v) { return left + plot_w * (std::clamp(v, lo, hi) - lo) / (hi - lo); };

  std::string out = open_svg(title, kWidth, height);
  const double axis_y = height - bottom + 6;
  out += line(left, axis_y, left + plot_w, axis_y, "axis");
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    double tv = std::fabs(t) < step * 1e-9 ? 0.0 : t;
    out += line(x_of(tv), top, x_of(tv), axis_y, "grid");
    out += text(x_of(tv), axis_y + 16, format_number(tv));
  }
  if (options.zero_line && lo < 0 && hi > 0) out += line(x_of(0), top, x_of(0), axis_y, "zero");
  if (rows.empty())
    out += text(left + plot_w / 2, top + row_h / 2 + 4, "no data", "middle", "muted");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Interval& r = rows[i];
    double y = top + row_h * static_cast<double>(i) + row_h / 2;
    out += text(left - 8, y + 4, r.label, "end");
    std::string cls = r.highlight ? "point hl" : "point";
    if (finite(r.lo) && finite(r.hi)) {
      out += line(x_of(*r.lo), y, x_of(*r.hi), y, r.highlight ? "whisker hl" : "whisker");
      out += line(x_of(*r.lo), y - 5, x_of(*r.lo), y + 5, r.highlight ? "whisker hl" : "whisker");
      out += line(x_of(*r.hi), y - 5, x_of(*r.hi), y + 5, r.highlight ? "whisker hl" : "whisker");
    }
    std::string label = format_number(r.value);
    if (finite(r.lo) && finite(r.hi)) {
      label += " [" + format_number(r.lo) + ", " + format_number(r.hi) + "]";
    }
    if (finite(r.value)) {
      out += "<circle class=\"" + cls + "\" cx=\"" + num(x_of(*r.value)) + "\" cy=\"" + num(y) +
             "\" r=\"4.5\"><title>" + html_escape(r.label) + ": " + html_escape(label) +
             "</title></circle>";
    }
    out += text(left + plot_w + 8, y + 4, finite(r.value) ? format_number(r.value) : "n/a", "start",
                "value");
  }
  return out + close_svg(title);
}

}  // namespace assay::eval::charts
