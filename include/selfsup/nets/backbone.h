#pragma once
// The common interface of every encoder: images [B, C, H, W] -> features [B, feature_dim()].
// Methods hold a `Backbone` (a shared pointer to the interface), register it as a submodule, clone
// it for momentum encoders and save it with the parent module.
#include <torch/nn.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "selfsup/core/config.h"

namespace selfsup::nets {

class BackboneImpl;
using Backbone = std::shared_ptr<BackboneImpl>;

class BackboneImpl : public torch::nn::Module {
 public:
  /// [B, C, H, W] floating point -> [B, feature_dim()].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual int64_t feature_dim() const = 0;
  /// Multiply-accumulates of the convolutions and linear layers for one image of the given size
  /// (one multiply-add counts once, as fvcore does; BN, activations and pooling are not counted).
  virtual double forward_flops(int64_t height, int64_t width) const = 0;
  /// The output positions (height x width) of each convolution for an image of the given size,
  /// by the module's name inside the backbone ("features.0", "layer1.0.conv1"); empty where the
  /// backbone does not say.
  virtual std::vector<std::pair<std::string, int64_t>> conv_positions(int64_t height, int64_t width) const {
    return {};
  }
  /// A freshly initialised backbone of the same type and options (the basis of cloning).
  virtual Backbone rebuild() const = 0;

  /// Deep copy (see clone_backbone); makes a parent torch::nn::Cloneable module clone correctly.
  std::shared_ptr<torch::nn::Module> clone(
      const c10::optional<torch::Device>& device = c10::nullopt) const override;

 private:
  // Called by a Cloneable parent on the backbone its reset() rebuilt: without this override the
  // base class does nothing and the parent's copy would silently keep fresh random weights.
  void clone_(torch::nn::Module& other, const c10::optional<torch::Device>& device) override;
};

/// Stores the options and implements rebuild() for a concrete backbone `Derived`.
template <typename Derived, typename Options>
class BackboneBase : public BackboneImpl {
 public:
  explicit BackboneBase(Options options_) : options(std::move(options_)) {}
  Backbone rebuild() const override { return std::make_shared<Derived>(options); }
  Options options;
};

/// Deep copy: same type and options, parameters and buffers copied (no shared storage) on the
/// source's devices, requires_grad flags and train/eval modes copied.
Backbone clone_backbone(const Backbone& backbone);

/// Copies every parameter and buffer of `from` into `to` (same names and shapes required) by
/// replacing their data, so dtype and device follow `from`; also copies requires_grad and the
/// train/eval mode of every submodule.
void copy_state(const torch::nn::Module& from, torch::nn::Module& to);

/// Number of scalar parameters (all, or only those with requires_grad).
int64_t count_parameters(const torch::nn::Module& module, bool trainable_only = false);

/// Multiply-accumulates for one image (see BackboneImpl::forward_flops).
double forward_flops(const BackboneImpl& backbone, int64_t height, int64_t width);
inline double forward_flops(const BackboneImpl& backbone, int64_t image_size) {
  return forward_flops(backbone, image_size, image_size);
}

/// Kaiming-normal (fan_out, ReLU) convolutions without bias, BN weight 1 and bias 0, as
/// torchvision's ResNet: applied to every Conv2d / BatchNorm2d under `module`.
void init_kaiming(torch::nn::Module& module);

/// Name-based construction for C++ users who do not use Config. Unset options take the chosen
/// backbone's defaults; setting an option that does not apply to it is an error.
struct BackboneOptions {
  BackboneOptions(std::string name, int64_t in_channels, int64_t image_size);
  /// convnet, resnet18, resnet34, vit, vit_mini, mlp (see backbone_names()).
  TORCH_ARG(std::string, name);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, image_size);
  // convnet
  TORCH_ARG(c10::optional<std::vector<int64_t>>, channels) = c10::nullopt;
  TORCH_ARG(c10::optional<int64_t>, blocks_per_stage) = c10::nullopt;
  // resnet18 / resnet34
  TORCH_ARG(c10::optional<double>, width) = c10::nullopt;
  /// Default: true for images of at most 64 px.
  TORCH_ARG(c10::optional<bool>, cifar_stem) = c10::nullopt;
  TORCH_ARG(c10::optional<bool>, zero_init_residual) = c10::nullopt;
  TORCH_ARG(c10::optional<std::vector<int64_t>>, mid_widths) = c10::nullopt;
  // vit / vit_mini
  TORCH_ARG(c10::optional<int64_t>, patch_size) = c10::nullopt;
  TORCH_ARG(c10::optional<int64_t>, depth) = c10::nullopt;
  TORCH_ARG(c10::optional<int64_t>, dim) = c10::nullopt;
  TORCH_ARG(c10::optional<int64_t>, heads) = c10::nullopt;
  TORCH_ARG(c10::optional<double>, mlp_ratio) = c10::nullopt;
  TORCH_ARG(c10::optional<std::string>, pool) = c10::nullopt;
  // mlp
  TORCH_ARG(c10::optional<std::vector<int64_t>>, hidden) = c10::nullopt;
  TORCH_ARG(c10::optional<bool>, batch_norm) = c10::nullopt;
};

/// The names make_backbone accepts.
const std::vector<std::string>& backbone_names();

Backbone make_backbone(const BackboneOptions& options);

/// Reads `model.backbone` (default "convnet") and only the keys of that backbone, so a key meant
/// for another backbone stays unread and Config::check_all_used reports it:
///   convnet:            model.channels, model.blocks_per_stage
///   resnet18, resnet34: model.width, model.cifar_stem, model.zero_init_residual, model.mid_widths
///   vit, vit_mini:      model.patch_size, model.depth, model.dim, model.heads, model.mlp_ratio,
///                       model.pool
///   mlp:                model.hidden, model.batch_norm
/// in_channels and image_size come from the data.
Backbone make_backbone(const Config& cfg, int64_t in_channels, int64_t image_size);

}  // namespace selfsup::nets
