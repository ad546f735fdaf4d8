// Progress lines (core/progress.h): the duration format shared with the training line, silence
// when switched off (--quiet), and no line at all for a short step written to a log.
#include <gtest/gtest.h>

#include "selfsup/core/progress.h"

using namespace selfsup;

TEST(Progress, DurationsReadAsMinutesAndSeconds) {
  EXPECT_EQ(format_duration(0), "0m00s");
  EXPECT_EQ(format_duration(59.9), "0m59s");
  EXPECT_EQ(format_duration(200), "3m20s");
  EXPECT_EQ(format_duration(3600 + 5 * 60), "1h05m00s");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(std::nan("")), "?");
}

TEST(Progress, OffMeansSilentAndAShortStepInALogPrintsNothing) {
  // ctest's stderr is a pipe, not a terminal: a log's rules apply.
  ::testing::internal::CaptureStderr();
  {
    set_progress_enabled(false);
    Progress p("silent", 3);
    p.advance(3);
  }
  set_progress_enabled(true);
  {
    Progress p("short", 5);
    for (int i = 0; i < 5; ++i) p.advance();
    p.done();
    p.done();  // twice is once
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_TRUE(progress_enabled());
}
