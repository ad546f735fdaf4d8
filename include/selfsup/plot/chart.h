#pragma once
// Line charts as PNG files, for pictures a run leaves in its folder (an active learning curve):
// a person looks at them without a browser or a Python plotting stack.
#include <torch/types.h>

#include <string>
#include <vector>

namespace selfsup::plot {

struct Series {
  std::string name;
  std::vector<double> x, y;
  /// Empty, or one half-width per point: drawn as a shaded band y +- spread (a spread over seeds).
  std::vector<double> spread;
};

struct ChartOptions {
  TORCH_ARG(std::string, title) = "";
  TORCH_ARG(std::string, x_label) = "";
  TORCH_ARG(std::string, y_label) = "";
  TORCH_ARG(int64_t, width) = 960;
  TORCH_ARG(int64_t, height) = 600;
};

/// The bytes of a PNG file: every series as a line with a marker per point (and its band), axes
/// with round-number ticks fitted to the data, a legend. Throws naming the series when its x and
/// y (or spread) differ in length or hold a value that is not finite, and when there is nothing
/// to draw.
std::string line_chart_png(const std::vector<Series>& series, const ChartOptions& options = {});

/// Round-number tick positions covering [lo, hi] (about `target` of them): steps of 1, 2 or 5
/// times a power of ten.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace selfsup::plot
