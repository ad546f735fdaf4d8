#include "selfsup/denoise/images.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "selfsup/data/image_folder.h"

namespace selfsup::denoise {
namespace fs = std::filesystem;
namespace {

std::string lower_extension(const std::string& path) {
  auto ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

/// [C, H, W] float in [0, 1] -> an 8-bit OpenCV matrix (gray, or BGR as OpenCV orders colour).
cv::Mat to_mat(const torch::Tensor& image) {
  TORCH_CHECK(image.dim() == 3 && (image.size(0) == 1 || image.size(0) == 3),
              "expected an image [C, H, W] with 1 or 3 channels, got ", image.sizes());
  auto x = (image.detach().to(torch::kCPU, torch::kFloat32).clamp(0, 1) * 255).round().to(torch::kUInt8);
  if (x.size(0) == 3) x = x.flip({0});  // RGB -> BGR
  x = x.permute({1, 2, 0}).contiguous();
  const int type = x.size(2) == 1 ? CV_8UC1 : CV_8UC3;
  return cv::Mat(static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), type, x.data_ptr()).clone();
}

}  // namespace

std::vector<std::string> image_files(const std::string& dir) {
  TORCH_CHECK(fs::is_directory(dir), "'", dir, "' is not a folder");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto ext = lower_extension(e.path().string());
    if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp")) {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

torch::Tensor read_image(const std::string& path, int64_t channels) {
  return data::load_image(path, channels).to(torch::kFloat32) / 255.0;
}

std::string encode_image(const torch::Tensor& image, const std::string& path) {
  const auto ext = lower_extension(path);
  TORCH_CHECK(ext == ".png" || ext == ".jpg" || ext == ".jpeg", "cannot write '", path,
              "': the name must end in .png, .jpg or .jpeg");
  std::vector<uchar> bytes;
  std::vector<int> params;
  if (ext != ".png") params = {cv::IMWRITE_JPEG_QUALITY, 95};
  TORCH_CHECK(cv::imencode(ext, to_mat(image), bytes, params), "could not encode '", path, "'");
  return std::string(bytes.begin(), bytes.end());
}

std::string examples_png(const std::vector<std::string>& columns, const std::vector<std::vector<torch::Tensor>>& rows,
                         int64_t crop, int64_t zoom) {
  TORCH_CHECK(!columns.empty() && !rows.empty(), "examples_png: nothing to draw");
  TORCH_CHECK(crop > 0 && zoom > 0, "examples_png: crop and zoom must be positive, got ", crop, " and ", zoom);
  const int cell = static_cast<int>(crop * zoom), gap = 6, header = 28;
  const int ncol = static_cast<int>(columns.size()), nrow = static_cast<int>(rows.size());
  cv::Mat canvas(header + nrow * (cell + gap), ncol * (cell + gap) + gap, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int c = 0; c < ncol; ++c) {
    cv::putText(canvas, columns[c], cv::Point(gap + c * (cell + gap), header - 9), cv::FONT_HERSHEY_SIMPLEX, 0.55,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  for (int r = 0; r < nrow; ++r) {
    const auto& versions = rows[r];
    TORCH_CHECK(static_cast<int>(versions.size()) == ncol, "examples_png: row ", r, " has ", versions.size(),
                " images for ", ncol, " columns");
    const auto& clean = versions.back();
    const int64_t h = clean.size(1), w = clean.size(2), side = std::min({crop, h, w});
    // The square (on a grid of half-square steps) where the clean image's variance is largest.
    int64_t best_y = 0, best_x = 0;
    double best = -1;
    const auto gray = clean.detach().to(torch::kCPU, torch::kFloat32).mean(0);
    for (int64_t y = 0; y + side <= h; y += std::max<int64_t>(1, side / 2)) {
      for (int64_t x = 0; x + side <= w; x += std::max<int64_t>(1, side / 2)) {
        const double v = gray.slice(0, y, y + side).slice(1, x, x + side).var().item<double>();
        if (v > best) best = v, best_y = y, best_x = x;
      }
    }
    for (int c = 0; c < ncol; ++c) {
      const auto& im = versions[c];
      TORCH_CHECK(im.dim() == 3 && im.size(1) == h && im.size(2) == w, "examples_png: image ", c, " of row ", r,
                  " is ", im.sizes(), ", its clean image ", clean.sizes());
      auto m = to_mat(im.slice(1, best_y, best_y + side).slice(2, best_x, best_x + side));
      if (m.channels() == 1) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR);
      cv::Mat big;
      cv::resize(m, big, cv::Size(cell, cell), 0, 0, cv::INTER_NEAREST);
      big.copyTo(canvas(cv::Rect(gap + c * (cell + gap), header + r * (cell + gap), cell, cell)));
    }
  }
  std::vector<uchar> bytes;
  TORCH_CHECK(cv::imencode(".png", canvas, bytes), "examples_png: could not encode the picture");
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace selfsup::denoise
