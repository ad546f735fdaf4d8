#pragma once
// Vision Transformer (Dosovitskiy et al. 2021) with pre-norm blocks, a learned positional
// embedding and a CLS token. Parameter names follow timm / the MAE reference code (patch_embed.proj,
// cls_token, pos_embed, blocks.i.norm1, blocks.i.attn.qkv, blocks.i.mlp.fc1, norm), and the pieces
// are public so MAE can run the encoder on a subset of patches and build its decoder from the same
// blocks.
#include <torch/nn.h>

#include "selfsup/nets/backbone.h"

namespace selfsup::nets {

struct PatchEmbedOptions {
  PatchEmbedOptions(int64_t in_channels, int64_t image_size, int64_t patch_size, int64_t dim)
      : in_channels_(in_channels), image_size_(image_size), patch_size_(patch_size), dim_(dim) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, image_size);
  TORCH_ARG(int64_t, patch_size);
  TORCH_ARG(int64_t, dim);
};

/// [B, C, S, S] -> [B, (S/p)^2, dim] patch tokens in row-major order, by a p x p stride-p conv.
class PatchEmbedImpl : public torch::nn::Cloneable<PatchEmbedImpl> {
 public:
  explicit PatchEmbedImpl(PatchEmbedOptions options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  int64_t grid_size() const { return options.image_size() / options.patch_size(); }
  int64_t num_patches() const { return grid_size() * grid_size(); }

  PatchEmbedOptions options;
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

struct TransformerBlockOptions {
  TransformerBlockOptions(int64_t dim, int64_t heads) : dim_(dim), heads_(heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, heads);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
};

/// Multi-head self-attention: qkv Linear, softmax(q k^T / sqrt(head_dim)) v, proj Linear.
class AttentionImpl : public torch::nn::Cloneable<AttentionImpl> {
 public:
  explicit AttentionImpl(TransformerBlockOptions options);
  void reset() override;
  /// [B, N, dim] -> [B, N, dim].
  torch::Tensor forward(const torch::Tensor& x);

  TransformerBlockOptions options;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(Attention);

/// fc1 - GELU - fc2.
class FeedForwardImpl : public torch::nn::Cloneable<FeedForwardImpl> {
 public:
  FeedForwardImpl(int64_t dim, int64_t hidden);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

  int64_t dim, hidden;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(FeedForward);

/// Pre-norm block: x + attn(norm1(x)), then x + mlp(norm2(x)). LayerNorm eps 1e-6 (timm, MAE).
class TransformerBlockImpl : public torch::nn::Cloneable<TransformerBlockImpl> {
 public:
  explicit TransformerBlockImpl(TransformerBlockOptions options);
  void reset() override;
  /// [B, N, dim] -> [B, N, dim].
  torch::Tensor forward(torch::Tensor x);
  /// Multiply-accumulates for `tokens` tokens.
  double forward_flops(int64_t tokens) const;

  TransformerBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  FeedForward mlp{nullptr};
};
TORCH_MODULE(TransformerBlock);

/// Normal(0, 0.02) Linear weights, zero biases, LayerNorm 1 / 0 under `module` (timm's ViT init;
/// its truncation at +-2 is 100 standard deviations away, so plain normal is the same thing).
void init_transformer(torch::nn::Module& module);

struct ViTOptions {
  /// "Tiny" defaults (dim 192, depth 12, heads 3); patch size 4 for images up to 64 px, else 16.
  ViTOptions(int64_t in_channels, int64_t image_size);
  /// A CPU-sized ViT for 28 / 32 px images: dim 128, depth 6, heads 4, patch 4.
  static ViTOptions mini(int64_t in_channels, int64_t image_size);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, image_size);
  /// Must divide image_size.
  TORCH_ARG(int64_t, patch_size);
  TORCH_ARG(int64_t, dim) = 192;
  TORCH_ARG(int64_t, depth) = 12;
  TORCH_ARG(int64_t, heads) = 3;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  /// The features: "cls" (the class token) or "mean" (the mean of the patch tokens), after the
  /// final LayerNorm.
  TORCH_ARG(std::string, pool) = "cls";
};

/// Features: the pooled tokens after the final LayerNorm (ViTOptions::pool). Expects images of
/// exactly image_size.
class ViTImpl : public BackboneBase<ViTImpl, ViTOptions> {
 public:
  explicit ViTImpl(ViTOptions options);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_dim() const override { return options.dim(); }
  double forward_flops(int64_t height, int64_t width) const override;
  void pretty_print(std::ostream& stream) const override;

  // The pieces of forward(), for MAE: forward(x) == norm(run_blocks(prepend_cls(embed_patches(x))))[:, 0].
  /// [B, C, S, S] -> [B, N, dim] patch tokens plus their positional embedding.
  torch::Tensor embed_patches(const torch::Tensor& x);
  /// [B, n, dim] -> [B, 1 + n, dim] with the CLS token (plus its positional embedding) first.
  torch::Tensor prepend_cls(const torch::Tensor& tokens);
  /// Runs every block; no final norm.
  torch::Tensor run_blocks(torch::Tensor tokens);
  /// All tokens after the blocks and the final norm: [B, 1 + N, dim].
  torch::Tensor forward_tokens(const torch::Tensor& x);
  int64_t num_patches() const { return patch_embed->num_patches(); }

  PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token;  // [1, 1, dim]
  torch::Tensor pos_embed;  // [1, 1 + N, dim]; index 0 belongs to the CLS token
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  void check_input(const torch::Tensor& x) const;
};
TORCH_MODULE(ViT);

/// Layer-wise learning-rate decay for fine-tuning a ViT (BEiT, MAE): with depth D, the patch
/// embedding, class token and position embedding are layer 0, block i is layer i + 1, the final
/// norm layer D + 1; each parameter's scale is decay^(D + 1 - layer), so the last layers train at
/// nearly the full rate and the first ones slowest. decay in (0, 1].
std::vector<std::pair<torch::Tensor, double>> layer_decay_scales(const ViTImpl& vit, double decay);

}  // namespace selfsup::nets
