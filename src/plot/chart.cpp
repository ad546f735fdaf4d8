#include "selfsup/plot/chart.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace selfsup::plot {
namespace {

// Matplotlib's tab10, as BGR.
const cv::Scalar kPalette[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44},  {40, 39, 214},  {189, 103, 148},
                               {75, 86, 140},  {194, 119, 227}, {127, 127, 127}, {34, 189, 188}, {207, 190, 23}};
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

std::string tick_label(double v, double step) {
  char buf[32];
  const int decimals = step >= 1 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale, int thickness = 1,
          cv::Scalar color = {40, 40, 40}) {
  cv::putText(img, s, at, kFont, scale, color, thickness, cv::LINE_AA);
}

cv::Size text_size(const std::string& s, double scale, int thickness = 1) {
  int base = 0;
  return cv::getTextSize(s, kFont, scale, thickness, &base);
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  TORCH_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "nice_ticks: need a finite range, got [", lo, ", ",
              hi, "]");
  TORCH_CHECK(target >= 2, "nice_ticks: target must be at least 2, got ", target);
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  const double raw = (hi - lo) / (target - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (const double m : {1.0, 2.0, 5.0}) {
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  }
  // Integer multiples of the step, from the last at or below lo to the first at or above hi.
  const auto first = static_cast<int64_t>(std::floor(lo / step + 1e-9));
  const auto last = static_cast<int64_t>(std::ceil(hi / step - 1e-9));
  std::vector<double> ticks;
  for (int64_t i = first; i <= last; ++i) ticks.push_back(static_cast<double>(i) * step);
  return ticks;
}

std::string line_chart_png(const std::vector<Series>& series, const ChartOptions& o) {
  TORCH_CHECK(!series.empty(), "line chart: no series to draw");
  TORCH_CHECK(o.width() >= 200 && o.height() >= 150, "line chart: width and height must be at least 200 x 150, got ",
              o.width(), " x ", o.height());
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series) {
    TORCH_CHECK(!s.x.empty() && s.x.size() == s.y.size(), "line chart: series '", s.name, "' has ", s.x.size(),
                " x values and ", s.y.size(), " y values");
    TORCH_CHECK(s.spread.empty() || s.spread.size() == s.y.size(), "line chart: series '", s.name, "' has ",
                s.spread.size(), " spread values for ", s.y.size(), " points");
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double sp = s.spread.empty() ? 0.0 : s.spread[i];
      TORCH_CHECK(std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && std::isfinite(sp), "line chart: series '", s.name,
                  "' has a value that is not finite at point ", i);
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i] - sp);
      y1 = std::max(y1, s.y[i] + sp);
    }
  }
  const auto xt = nice_ticks(x0, x1), yt = nice_ticks(y0, y1);
  const double xa = std::min(x0, xt.front()), xb = std::max(x1, xt.back());
  const double ya = std::min(y0, yt.front()), yb = std::max(y1, yt.back());

  const int W = static_cast<int>(o.width()), H = static_cast<int>(o.height());
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  const int left = 78, right = W - 24, top = o.title().empty() ? 24 : 52, bottom = H - 62;
  auto px = [&](double x) { return left + static_cast<int>(std::lround((x - xa) / (xb - xa) * (right - left))); };
  auto py = [&](double y) { return bottom - static_cast<int>(std::lround((y - ya) / (yb - ya) * (bottom - top))); };

  for (const double t : yt) {
    if (t < ya - 1e-12 || t > yb + 1e-12) continue;
    cv::line(img, {left, py(t)}, {right, py(t)}, {232, 232, 232}, 1, cv::LINE_AA);
    const auto l = tick_label(t, yt.size() > 1 ? yt[1] - yt[0] : 1.0);
    const auto sz = text_size(l, 0.45);
    text(img, l, {left - 8 - sz.width, py(t) + sz.height / 2}, 0.45);
  }
  for (const double t : xt) {
    if (t < xa - 1e-12 || t > xb + 1e-12) continue;
    cv::line(img, {px(t), top}, {px(t), bottom}, {240, 240, 240}, 1, cv::LINE_AA);
    const auto l = tick_label(t, xt.size() > 1 ? xt[1] - xt[0] : 1.0);
    const auto sz = text_size(l, 0.45);
    text(img, l, {px(t) - sz.width / 2, bottom + 20}, 0.45);
  }
  cv::rectangle(img, {left, top}, {right, bottom}, {90, 90, 90}, 1);
  if (!o.title().empty()) {
    const auto sz = text_size(o.title(), 0.65, 2);
    text(img, o.title(), {(W - sz.width) / 2, 32}, 0.65, 2);
  }
  if (!o.x_label().empty()) {
    const auto sz = text_size(o.x_label(), 0.55);
    text(img, o.x_label(), {(left + right - sz.width) / 2, H - 18}, 0.55);
  }
  if (!o.y_label().empty()) {
    // Drawn horizontally, then rotated into the left margin.
    const auto sz = text_size(o.y_label(), 0.55);
    cv::Mat label(sz.height + 8, sz.width + 4, CV_8UC3, cv::Scalar(255, 255, 255));
    text(label, o.y_label(), {2, sz.height + 2}, 0.55);
    cv::Mat rotated;
    cv::rotate(label, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int y = std::max(0, (top + bottom - rotated.rows) / 2);
    if (y + rotated.rows <= H && rotated.cols + 4 <= left) rotated.copyTo(img(cv::Rect(4, y, rotated.cols, rotated.rows)));
  }

  // Bands first, blended, so that every line stays visible above them.
  cv::Mat bands = img.clone();
  bool any_band = false;
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    if (s.spread.empty() || s.x.size() < 2) continue;
    std::vector<cv::Point> poly;
    for (size_t i = 0; i < s.x.size(); ++i) poly.emplace_back(px(s.x[i]), py(s.y[i] + s.spread[i]));
    for (size_t i = s.x.size(); i-- > 0;) poly.emplace_back(px(s.x[i]), py(s.y[i] - s.spread[i]));
    cv::fillPoly(bands, std::vector<std::vector<cv::Point>>{poly}, kPalette[k % 10], cv::LINE_AA);
    any_band = true;
  }
  if (any_band) cv::addWeighted(bands, 0.22, img, 0.78, 0, img);
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const auto color = kPalette[k % 10];
    for (size_t i = 0; i + 1 < s.x.size(); ++i)
      cv::line(img, {px(s.x[i]), py(s.y[i])}, {px(s.x[i + 1]), py(s.y[i + 1])}, color, 2, cv::LINE_AA);
    if (s.x.size() <= 60) {
      for (size_t i = 0; i < s.x.size(); ++i) cv::circle(img, {px(s.x[i]), py(s.y[i])}, 3, color, cv::FILLED, cv::LINE_AA);
    }
  }
  // The legend, in the lower right corner where rising curves leave room.
  int lw = 0;
  for (const auto& s : series) lw = std::max(lw, text_size(s.name, 0.5).width);
  const int row = 22, lh = row * static_cast<int>(series.size()) + 10, lx = right - lw - 52, ly = bottom - lh - 10;
  cv::rectangle(img, {lx, ly}, {right - 10, bottom - 10}, {255, 255, 255}, cv::FILLED);
  cv::rectangle(img, {lx, ly}, {right - 10, bottom - 10}, {200, 200, 200}, 1);
  for (size_t k = 0; k < series.size(); ++k) {
    const int y = ly + 8 + row * static_cast<int>(k) + row / 2;
    cv::line(img, {lx + 8, y}, {lx + 30, y}, kPalette[k % 10], 3, cv::LINE_AA);
    text(img, series[k].name, {lx + 36, y + 5}, 0.5);
  }
  std::vector<uchar> bytes;
  TORCH_CHECK(cv::imencode(".png", img, bytes), "line chart: PNG encoding failed");
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace selfsup::plot
