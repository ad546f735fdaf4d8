#pragma once
// Pipelines (ordered transforms) and view sets (named pipelines, one output batch per view),
// built in code or from YAML, plus preset pipelines by name.
//
// Pipeline YAML: a list of ops, a preset name, or a preset map:
//   - {op: random_resized_crop, size: 28, scale: [0.2, 1.0]}
//   - {op: hflip, p: 0.5}
//   - {op: color_jitter, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8}
//   - {op: grayscale, p: 0.2}
//   - {op: normalize, mean: [0.2860], std: [0.3530]}
// or `simclr`, or `{preset: simclr, size: 28, channels: 1, mean: [0.2860], std: [0.3530]}`.
// Ops and their keys (defaults in transforms.h / randaugment.h):
//   random_resized_crop: size, scale, ratio      random_crop: size, padding, padding_mode, fill
//   hflip: p       color_jitter: brightness, contrast, saturation, hue, p       grayscale: p
//   gaussian_blur: kernel_size, sigma, p         solarize: threshold, p
//   cutout: size, min_size, fill, p              randaugment: n, magnitude, ops, fill
//   normalize: mean, std
//
// ViewSet YAML: a map with `views:` (or the list itself); each view has a name, a pipeline in any
// of the forms above, and optionally `repeat: K` for K views name_0 .. name_{K-1}. The map may
// also define named pipelines under `pipelines:`, referred to by name (before preset names) or
// through YAML anchors:
//   pipelines:
//     simclr: &simclr [{op: random_resized_crop, size: 28, scale: [0.2, 1.0]}, ...]
//   views:
//     - {name: view1, pipeline: *simclr}
//     - {name: view2, pipeline: simclr}
//     - {name: weak, pipeline: weak, repeat: 2}
// The short form {pipeline: P, views: K} gives K views view1 .. viewK of one pipeline (K = 2 when
// `views` is left out: the SimCLR case).
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "selfsup/augment/transforms.h"

namespace selfsup::augment {

class Pipeline {
 public:
  Pipeline() = default;
  explicit Pipeline(std::vector<TransformPtr> transforms);

  /// Any of the YAML forms above. An unknown op, key or preset, or a bad value, throws c10::Error
  /// naming the op (with its position) and the key.
  static Pipeline from_yaml(const YAML::Node& node);

  Pipeline& add(TransformPtr t);
  template <typename T, typename... Args>
  Pipeline& emplace(Args&&... args) {
    return add(std::make_shared<T>(std::forward<Args>(args)...));
  }

  /// uint8 input is scaled to [0, 1]; float input is used as is (expected in [0, 1]).
  /// Returns float [B, C, H', W']. The input is never modified.
  torch::Tensor operator()(const torch::Tensor& batch, torch::Generator& gen) const;

  /// The same pipeline without its normalize steps (to look at the views).
  Pipeline without_normalize() const;

  size_t size() const { return transforms_.size(); }
  bool empty() const { return transforms_.empty(); }
  const std::vector<TransformPtr>& transforms() const { return transforms_; }
  /// Op names joined by " -> ".
  std::string describe() const;

 private:
  std::vector<TransformPtr> transforms_;
};

/// Which preset, for which images. 0 for image_size or channels means "the batch's" (decided when
/// the pipeline runs); empty mean/std means the default statistics for the channel count:
/// Fashion-MNIST's (0.2860 / 0.3530) for 1 channel, CIFAR-10's for 3.
struct PresetOptions {
  /* implicit */ PresetOptions(std::string name) : name_(std::move(name)) {}
  TORCH_ARG(std::string, name);
  TORCH_ARG(int64_t, image_size) = 0;
  TORCH_ARG(int64_t, channels) = 0;
  TORCH_ARG(std::vector<double>, mean) = {};
  TORCH_ARG(std::vector<double>, std) = {};
  TORCH_ARG(bool, normalize) = true;
};

/// Preset pipelines (each ends with normalization unless PresetOptions::normalize is false):
///   none:   normalization only.
///   simclr: random_resized_crop (scale [0.2, 1] up to 64 px, [0.08, 1] above), hflip 0.5,
///           color_jitter 0.4/0.4/0.4/0.1 p 0.8, grayscale 0.2, and from 96 px a Gaussian blur
///           p 0.5 with a kernel of ~10% of the side.
///   weak:   random_crop with reflect padding of side/8, hflip 0.5 (USB's weak view).
///   strong: weak + randaugment (n 2, magnitude [0, 1]) + cutout (side [0, 0.5], fill 0.5).
Pipeline preset(const PresetOptions& options);
Pipeline preset(const std::string& name, int64_t image_size, int64_t channels);
const std::vector<std::string>& preset_names();

class ViewSet {
 public:
  ViewSet() = default;

  static ViewSet from_yaml(const YAML::Node& node);

  ViewSet& add(std::string name, Pipeline pipeline, int64_t repeat = 1);

  /// One batch per view, in order; uint8 input is converted once and shared by all views. Each
  /// view draws from its own generator seeded from `gen` (so the result does not depend on the
  /// thread count); on the CPU with at most as many threads as views, the views run side by side,
  /// one per thread.
  std::vector<torch::Tensor> operator()(const torch::Tensor& batch, torch::Generator& gen) const;

  ViewSet without_normalize() const;

  /// What the views do to `images` (uint8 [N, C, H, W]), for a person to look at: float in
  /// [0, 1], [N * (1 + size()), C, H, W], each image followed by its views, normalisation left
  /// out and a view cropped to another size shown at the original's size.
  torch::Tensor preview(const torch::Tensor& images, torch::Generator& gen) const;

  size_t size() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }
  const Pipeline& pipeline(size_t i) const { return pipelines_.at(i); }

 private:
  std::vector<std::string> names_;
  std::vector<Pipeline> pipelines_;
};

}  // namespace selfsup::augment
