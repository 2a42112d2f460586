#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/log.h"

namespace assay {

namespace {
constexpr double kBarEveryS = 0.1;
constexpr int kBarWidth = 24;

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
}  // namespace

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0 || s > 1e8) return "?";
  long t = std::lround(s);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

Progress::Progress(std::string stage, size_t total, size_t resumed, ProgressOptions options)
    : stage_(std::move(stage)),
      total_(total),
      resumed_(std::min(resumed, total)),
      done_(resumed_),
      options_(std::move(options)),
      mode_(options_.mode),
      t0_steady_(std::chrono::steady_clock::now()) {
  if (mode_ == ProgressMode::kAuto) {
    mode_ = isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLines;
  }
  if (!log::enabled(log::Level::kInfo)) mode_ = ProgressMode::kOff;
  t0_ = now();
  last_emit_ = t0_;
}

Progress::~Progress() {
  try {
    finish();
  } catch (...) {  // a destructor never throws; the final line is only informative
  }
}

double Progress::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_steady_).count();
}

ProgressState Progress::state_locked() const {
  ProgressState st;
  st.done = done_;
  st.total = total_;
  st.elapsed_s = std::max(0.0, now() - t0_);
  size_t fresh = done_ - resumed_;
  if (fresh > 0 && st.elapsed_s > 0) {
    st.rate = static_cast<double>(fresh) / st.elapsed_s;
    st.eta_s = static_cast<double>(total_ - done_) / st.rate;
  } else if (done_ >= total_) {
    st.eta_s = 0.0;
  }
  return st;
}

ProgressState Progress::state() const {
  std::lock_guard lock(mu_);
  return state_locked();
}

nlohmann::json Progress::fields_locked() const {
  ProgressState st = state_locked();
  nlohmann::json f = {
      {"stage", stage_},          {"done", st.done},
      {"total", st.total},        {"percent", st.total ? 100.0 * st.done / st.total : 100.0},
      {"rate", st.rate},          {"unit", options_.unit + "/s"},
      {"elapsed_s", st.elapsed_s}};
  f["eta_s"] = st.eta_s ? nlohmann::json(*st.eta_s) : nlohmann::json(nullptr);
  f["eta"] = st.eta_s ? format_duration(*st.eta_s) : "?";
  if (extra_.is_object()) f.update(extra_);
  return f;
}

std::string Progress::bar_locked() const {
  ProgressState st = state_locked();
  double frac = st.total ? static_cast<double>(st.done) / st.total : 1.0;
  int filled = static_cast<int>(frac * kBarWidth);
  std::string bar = stage_ + " [" + std::string(filled, '#') +
                    std::string(kBarWidth - filled, '.') + "] " + std::to_string(st.done) + "/" +
                    std::to_string(st.total) + " " + fixed(frac * 100, 0) + "%  " +
                    fixed(st.rate, st.rate < 10 ? 2 : 1) + " " + options_.unit + "/s  ETA " +
                    (st.eta_s ? format_duration(*st.eta_s) : "?");
  return bar;
}

void Progress::update(size_t done, const nlohmann::json& extra) {
  std::lock_guard lock(mu_);
  if (finished_) return;
  done_ = std::clamp(done, resumed_, total_);
  if (extra.is_object()) extra_ = extra;
  double t = now();
  if (mode_ == ProgressMode::kBar) {
    if (t - last_emit_ < kBarEveryS && done_ < total_) return;
    last_emit_ = t;
    if (options_.bar_sink != nullptr) {
      *options_.bar_sink += bar_locked() + "\n";
    } else {
      log::set_status_line(bar_locked());
    }
  } else if (mode_ == ProgressMode::kLines) {
    if (t - last_emit_ < options_.every_s) return;
    last_emit_ = t;
    log::info(stage_ + " progress", fields_locked());
  }
}

void Progress::advance(size_t n) {
  size_t d;
  {
    std::lock_guard lock(mu_);
    d = done_ + n;
  }
  update(d);
}

void Progress::finish() {
  std::lock_guard lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (mode_ == ProgressMode::kBar && options_.bar_sink == nullptr) log::set_status_line("");
  nlohmann::json f = fields_locked();
  f["finished"] = true;
  log::info(stage_ + " progress", f);
}

}  // namespace assay
