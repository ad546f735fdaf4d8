#pragma once
// Progress of a long step that is not training (feature extraction, kNN, the linear probe, label
// propagation, a report's map), shown the way the training line is: on a terminal one line
// redrawn in place with the count, the elapsed time and an ETA; without one (a log file) a plain
// line every 10 s once the step has run that long. Off for the whole process with
// set_progress_enabled(false), which is what --quiet does, and on ranks other than 0.
#include <chrono>
#include <cstdint>
#include <string>

namespace selfsup {

void set_progress_enabled(bool enabled);
bool progress_enabled();

/// "0m45s", "3m20s", "1h05m00s".
std::string format_duration(double seconds);

class Progress {
 public:
  /// `what` names the step ("kNN: 10000 test images"), `total` counts its units.
  Progress(std::string what, int64_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  /// Ends the line (a terminal's, or a log's last line for a step that took over 10 s).
  void done();

 private:
  void show(bool last);
  std::string what_;
  int64_t total_, count_ = 0, shown_count_ = -1;
  bool on_, tty_, finished_ = false, shown_ = false;
  std::chrono::steady_clock::time_point start_, last_shown_;
};

}  // namespace selfsup
