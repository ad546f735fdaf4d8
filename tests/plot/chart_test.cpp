// Charts: round-number ticks, a PNG that decodes to the asked size with each series drawn in its
// colour, and clear errors for series that cannot be drawn.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "selfsup/plot/chart.h"

namespace selfsup::plot {
namespace {

TEST(NiceTicks, RoundSteps) {
  EXPECT_EQ(nice_ticks(0, 10, 6), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(10, 500, 6), (std::vector<double>{0, 100, 200, 300, 400, 500}));
  const auto t = nice_ticks(0.62, 0.87, 6);
  ASSERT_GE(t.size(), 2u);
  EXPECT_NEAR(t[1] - t[0], 0.05, 1e-12);
  EXPECT_LE(t.front(), 0.62);
  EXPECT_GE(t.back(), 0.87 - 1e-9);
  const auto flat = nice_ticks(5, 5);
  EXPECT_GE(flat.size(), 3u) << "a flat range is widened";
  EXPECT_LT(flat.front(), 5);
  EXPECT_GT(flat.back(), 5);
  EXPECT_THROW(nice_ticks(1, 0), c10::Error);
}

TEST(LineChart, DecodesWithEachSeriesInItsColour) {
  Series a{"random", {10, 20, 30}, {60, 70, 75}, {}}, b{"margin", {10, 20, 30}, {60, 74, 80}, {1, 2, 1}};
  const auto png = line_chart_png({a, b}, ChartOptions().title("t").x_label("labels").y_label("acc").width(640).height(400));
  const std::vector<uchar> bytes(png.begin(), png.end());
  const auto img = cv::imdecode(bytes, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 640);
  EXPECT_EQ(img.rows, 400);
  auto count = [&](cv::Vec3b bgr) {
    int n = 0;
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x) n += img.at<cv::Vec3b>(y, x) == bgr;
    return n;
  };
  EXPECT_GT(count({180, 119, 31}), 100) << "the first series' blue";
  EXPECT_GT(count({14, 127, 255}), 100) << "the second series' orange";
}

TEST(LineChart, RefusesWhatCannotBeDrawn) {
  EXPECT_THROW(line_chart_png({}), c10::Error);
  EXPECT_THROW(line_chart_png({Series{"s", {1, 2}, {1}, {}}}), c10::Error);
  EXPECT_THROW(line_chart_png({Series{"s", {1, 2}, {1, std::nan("")}, {}}}), c10::Error);
  EXPECT_THROW(line_chart_png({Series{"s", {1, 2}, {1, 2}, {1}}}), c10::Error);
}

}  // namespace
}  // namespace selfsup::plot
