// Progress of one stage of a run (generation, scoring, judging): done / total, rate and ETA.
// On a terminal, a bar redrawn in place on stderr (log lines scroll above it); otherwise an info
// log line every few seconds (a JSON line when logs are JSON: CloudWatch, CI), and one at the end.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace assay {

namespace log {
// Shows `text` as a status line (a progress bar) on the last line of a terminal: redrawn in
// place, and kept below the log lines written after it. Empty text removes it. Does nothing when
// stderr is not a terminal or a log testing sink is set. Lives in log.cpp, which owns stderr;
// declared here because progress bars are its only user.
void set_status_line(std::string_view text);
}  // namespace log

enum class ProgressMode {
  kAuto,   // kBar when stderr is a terminal, kLines otherwise
  kBar,    // a bar redrawn in place (at most 10 times a second)
  kLines,  // a log line every `every_s` seconds
  kOff,    // nothing but the final line
};

struct ProgressOptions {
  ProgressMode mode = ProgressMode::kAuto;
  double every_s = 5.0;          // kLines: seconds between lines
  std::string unit = "samples";  // what is counted, for the rate ("samples/s")
  // Monotonic seconds; empty: std::chrono::steady_clock. Tests inject a fake clock.
  std::function<double()> clock;
  // kBar: the bar text goes here (each redraw appended, '\n'-terminated) instead of the
  // terminal. For tests.
  std::string* bar_sink = nullptr;
};

// A snapshot of a stage's progress. `rate` counts only work done by this process (resumed items
// are excluded), so the ETA holds after a resume.
struct ProgressState {
  size_t done = 0;
  size_t total = 0;
  double elapsed_s = 0;
  double rate = 0;              // items per second; 0 before the first item
  std::optional<double> eta_s;  // nullopt while the rate is unknown
};

// Formats seconds as H:MM:SS ("?" for a negative, non-finite or absurd value).
std::string format_duration(double seconds);

// Reports one stage. Thread-safe: update() may be called from any thread.
class Progress {
 public:
  // `total` items, `resumed` of them already done before this process started.
  Progress(std::string stage, size_t total, size_t resumed = 0, ProgressOptions options = {});
  // Calls finish() if it was not called.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Sets the number of items done (resumed ones included). `extra` (an object or null) adds
  // fields to the progress line, e.g. {"tokens_per_s": 412.5}.
  void update(size_t done, const nlohmann::json& extra = nullptr);
  // Adds `n` to the items done.
  void advance(size_t n = 1);
  // Ends the stage: removes the bar and logs one final line. Idempotent.
  void finish();

  ProgressState state() const;

 private:
  double now() const;
  ProgressState state_locked() const;
  nlohmann::json fields_locked() const;
  std::string bar_locked() const;

  mutable std::mutex mu_;
  std::string stage_;
  size_t total_;
  size_t resumed_;
  size_t done_;
  ProgressOptions options_;
  ProgressMode mode_;
  std::chrono::steady_clock::time_point t0_steady_;
  double t0_ = 0;
  double last_emit_ = 0;
  nlohmann::json extra_;
  bool finished_ = false;
};

}  // namespace assay
