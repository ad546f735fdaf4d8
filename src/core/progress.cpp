#include "selfsup/core/progress.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace selfsup {
namespace {
std::atomic<bool> g_enabled{true};
// Ranks other than 0 stay silent: torchrun and --nproc tell a process its rank in RANK.
bool main_rank() {
  const char* rank = std::getenv("RANK");
  return rank == nullptr || std::string(rank) == "0";
}
constexpr double kLogEvery = 10.0;  // seconds between plain lines in a log
constexpr double kRedrawEvery = 0.2;
}  // namespace

void set_progress_enabled(bool enabled) { g_enabled.store(enabled); }
bool progress_enabled() { return g_enabled.load(); }

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s);
  std::ostringstream o;
  if (t >= 3600) o << t / 3600 << "h";
  o << std::setw(t >= 3600 ? 2 : 1) << std::setfill('0') << (t % 3600) / 60 << "m" << std::setw(2) << t % 60 << "s";
  return o.str();
}

Progress::Progress(std::string what, int64_t total)
    : what_(std::move(what)),
      total_(std::max<int64_t>(total, 1)),
      on_(progress_enabled() && main_rank()),
      tty_(on_ && ::isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()),
      last_shown_(start_) {}

Progress::~Progress() {
  if (!finished_) done();
}

void Progress::advance(int64_t n) {
  count_ = std::min(total_, count_ + n);
  if (!on_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_shown_).count();
  if (since >= (tty_ ? kRedrawEvery : kLogEvery)) show(false);
}

void Progress::show(bool last) {
  const auto now = std::chrono::steady_clock::now();
  last_shown_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::ostringstream line;
  line << what_ << ": " << count_ << "/" << total_ << " (" << 100 * count_ / total_ << "%) " << format_duration(elapsed);
  if (!last && count_ > 0) line << " ETA " << format_duration(elapsed * static_cast<double>(total_ - count_) / count_);
  if (tty_) {
    std::cerr << "\r\033[K" << line.str() << (last ? "\n" : "") << std::flush;
  } else {
    std::cerr << line.str() << "\n";
  }
  shown_ = true;
  shown_count_ = count_;
}

void Progress::done() {
  if (finished_) return;
  finished_ = true;
  if (!on_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // A terminal line is closed; a log gets a last line only for a step long enough to have shown
  // one, and not twice the same.
  if (tty_ ? (shown_ || elapsed >= kRedrawEvery) : ((shown_ && shown_count_ != count_) || (!shown_ && elapsed >= kLogEvery)))
    show(true);
}

}  // namespace selfsup
