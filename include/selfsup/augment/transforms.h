#pragma once
// Batched random augmentations with torchvision semantics and per-sample random parameters.
//
// Every transform takes a float batch [B, C, H, W] in [0, 1] (C = 1 or 3) on any device and
// returns one of the same kind. All randomness comes from the CPU generator passed in: parameters
// are drawn there for the whole batch (always the same draws whatever the data's device), moved to
// the batch's device, and applied to the whole batch at once. An op that only touches some
// samples (probability p) works on just those (index_select / index_copy_).
//
// Each transform has an Options struct, a functional form
//   torch::Tensor functional::NAME(const torch::Tensor& x, const NAMEOptions&, torch::Generator&,
//                                  bool inplace = false)
// and a Transform class for pipelines. `inplace` lets the op overwrite x when the caller owns it
// (Pipeline does this after its first op); either way the result is x itself or a fresh tensor,
// never a view of x.
#include <torch/arg.h>
#include <torch/expanding_array.h>
#include <torch/types.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace selfsup::augment {

using Range = std::array<double, 2>;

struct RandomResizedCropOptions {
  static constexpr const char* op_name = "random_resized_crop";
  /* implicit */ RandomResizedCropOptions(torch::ExpandingArray<2> size) : size_(size) {}
  /// Output (height, width).
  TORCH_ARG(torch::ExpandingArray<2>, size);
  /// Range of the crop's area as a fraction of the image's.
  TORCH_ARG(Range, scale) = Range{0.08, 1.0};
  /// Range of the crop's aspect ratio width / height, sampled log-uniformly.
  TORCH_ARG(Range, ratio) = Range{3.0 / 4.0, 4.0 / 3.0};
};

struct RandomCropOptions {
  static constexpr const char* op_name = "random_crop";
  /// Side of the square output; 0 keeps the input's height and width.
  TORCH_ARG(int64_t, size) = 0;
  /// Padding on each side; -1 means int(side / 8): 4 px for 32 px images, 3 for 28 (as USB).
  TORCH_ARG(int64_t, padding) = -1;
  /// "reflect" (torchvision's padding_mode='reflect'), "edge" or "constant".
  TORCH_ARG(std::string, padding_mode) = "reflect";
  /// Value of the padding when padding_mode is "constant".
  TORCH_ARG(double, fill) = 0.0;
};

struct HorizontalFlipOptions {
  static constexpr const char* op_name = "hflip";
  TORCH_ARG(double, p) = 0.5;
};

struct ColorJitterOptions {
  static constexpr const char* op_name = "color_jitter";
  /// Factors are drawn uniformly from [max(0, 1 - s), 1 + s]; 0 disables the adjustment.
  TORCH_ARG(double, brightness) = 0.0;
  TORCH_ARG(double, contrast) = 0.0;
  TORCH_ARG(double, saturation) = 0.0;
  /// The hue shift is drawn uniformly from [-hue, hue], hue <= 0.5.
  TORCH_ARG(double, hue) = 0.0;
  /// Probability that a sample is jittered at all (torchvision's RandomApply([ColorJitter], p)).
  TORCH_ARG(double, p) = 1.0;
};

struct RandomGrayscaleOptions {
  static constexpr const char* op_name = "grayscale";
  TORCH_ARG(double, p) = 0.1;
};

struct GaussianBlurOptions {
  static constexpr const char* op_name = "gaussian_blur";
  /* implicit */ GaussianBlurOptions(int64_t kernel_size) : kernel_size_(kernel_size) {}
  /// Odd kernel side.
  TORCH_ARG(int64_t, kernel_size);
  /// Per-sample sigma drawn uniformly from this range.
  TORCH_ARG(Range, sigma) = Range{0.1, 2.0};
  TORCH_ARG(double, p) = 0.5;
};

struct SolarizeOptions {
  static constexpr const char* op_name = "solarize";
  TORCH_ARG(double, threshold) = 0.5;
  TORCH_ARG(double, p) = 0.5;
};

struct CutoutOptions {
  static constexpr const char* op_name = "cutout";
  /// Side of the square as a fraction of the image's side (the box is clipped at the image's
  /// right and bottom edges; its centre is uniform over the image, as in USB's CutoutAbs).
  TORCH_ARG(double, size) = 0.5;
  /// When >= 0, the side is drawn per sample uniformly from [min_size, size] (USB's RandAugment
  /// draws it from [0, 0.5]).
  TORCH_ARG(double, min_size) = -1.0;
  TORCH_ARG(double, fill) = 0.5;
  TORCH_ARG(double, p) = 1.0;
};

struct NormalizeOptions {
  static constexpr const char* op_name = "normalize";
  NormalizeOptions(std::vector<double> mean, std::vector<double> std)
      : mean_(std::move(mean)), std_(std::move(std)) {}
  /// One value per channel, or one value for all channels.
  TORCH_ARG(std::vector<double>, mean);
  TORCH_ARG(std::vector<double>, std);
};

/// Throw c10::Error naming the first argument out of range.
void validate(const RandomResizedCropOptions& o);
void validate(const RandomCropOptions& o);
void validate(const HorizontalFlipOptions& o);
void validate(const ColorJitterOptions& o);
void validate(const RandomGrayscaleOptions& o);
void validate(const GaussianBlurOptions& o);
void validate(const SolarizeOptions& o);
void validate(const CutoutOptions& o);
void validate(const NormalizeOptions& o);

/// A crop box per sample, int64 CPU tensors [B] in pixels.
struct CropBoxes {
  torch::Tensor top, left, height, width;
};

/// torchvision's RandomResizedCrop.get_params for every sample: up to 10 tries of an area drawn
/// uniformly from scale * H * W and an aspect ratio drawn log-uniformly from `ratio`, rounded to
/// whole pixels and accepted when it fits; otherwise the central crop clamped to `ratio`.
CropBoxes sample_resized_crop_boxes(int64_t batch, int64_t height, int64_t width,
                                    const Range& scale, const Range& ratio, torch::Generator& gen);

namespace functional {
torch::Tensor random_resized_crop(const torch::Tensor& x, const RandomResizedCropOptions& o,
                                  torch::Generator& gen, bool inplace = false);
torch::Tensor random_crop(const torch::Tensor& x, const RandomCropOptions& o, torch::Generator& gen,
                          bool inplace = false);
torch::Tensor hflip(const torch::Tensor& x, const HorizontalFlipOptions& o, torch::Generator& gen,
                    bool inplace = false);
/// The enabled adjustments are applied in a random order drawn per sample.
torch::Tensor color_jitter(const torch::Tensor& x, const ColorJitterOptions& o,
                           torch::Generator& gen, bool inplace = false);
/// The gray image is repeated over the C channels, so the channel count is kept.
torch::Tensor grayscale(const torch::Tensor& x, const RandomGrayscaleOptions& o,
                        torch::Generator& gen, bool inplace = false);
/// Separable Gaussian kernel as torchvision's (support [-k/2, k/2]), reflect padding.
torch::Tensor gaussian_blur(const torch::Tensor& x, const GaussianBlurOptions& o,
                            torch::Generator& gen, bool inplace = false);
torch::Tensor solarize(const torch::Tensor& x, const SolarizeOptions& o, torch::Generator& gen,
                       bool inplace = false);
torch::Tensor cutout(const torch::Tensor& x, const CutoutOptions& o, torch::Generator& gen,
                     bool inplace = false);
/// (x - mean) / std per channel; draws nothing from `gen`.
torch::Tensor normalize(const torch::Tensor& x, const NormalizeOptions& o, torch::Generator& gen,
                        bool inplace = false);
}  // namespace functional

/// One step of a pipeline.
class Transform {
 public:
  virtual ~Transform() = default;
  /// Applies the transform; the input is left untouched.
  torch::Tensor operator()(const torch::Tensor& x, torch::Generator& gen) const {
    return apply(x, gen, /*inplace=*/false);
  }
  /// `inplace`: the caller owns x and lets the transform overwrite it. Returns x itself or a fresh
  /// tensor, never a view of x.
  virtual torch::Tensor apply(const torch::Tensor& x, torch::Generator& gen,
                              bool inplace) const = 0;
  /// The op's name in pipeline YAML ("hflip", "color_jitter", ...).
  virtual std::string name() const = 0;
};

using TransformPtr = std::shared_ptr<const Transform>;

/// A Transform around a functional form and its Options (validated on construction).
template <typename Options,
          torch::Tensor (*Fn)(const torch::Tensor&, const Options&, torch::Generator&, bool)>
class FunctionalTransform : public Transform {
 public:
  explicit FunctionalTransform(Options options) : options_(std::move(options)) {
    validate(options_);
  }
  torch::Tensor apply(const torch::Tensor& x, torch::Generator& gen, bool inplace) const override {
    return Fn(x, options_, gen, inplace);
  }
  std::string name() const override { return Options::op_name; }
  const Options& options() const { return options_; }

 private:
  Options options_;
};

using RandomResizedCrop =
    FunctionalTransform<RandomResizedCropOptions, &functional::random_resized_crop>;
using RandomCrop = FunctionalTransform<RandomCropOptions, &functional::random_crop>;
using HorizontalFlip = FunctionalTransform<HorizontalFlipOptions, &functional::hflip>;
using ColorJitter = FunctionalTransform<ColorJitterOptions, &functional::color_jitter>;
using RandomGrayscale = FunctionalTransform<RandomGrayscaleOptions, &functional::grayscale>;
using GaussianBlur = FunctionalTransform<GaussianBlurOptions, &functional::gaussian_blur>;
using Solarize = FunctionalTransform<SolarizeOptions, &functional::solarize>;
using Cutout = FunctionalTransform<CutoutOptions, &functional::cutout>;
using Normalize = FunctionalTransform<NormalizeOptions, &functional::normalize>;

}  // namespace selfsup::augment
