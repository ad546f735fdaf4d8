#include "selfsup/nets/vit.h"

#include <cmath>

#include "common.h"
#include "selfsup/nets/kernels.h"

namespace selfsup::nets {

namespace nn = torch::nn;

namespace {

constexpr double kLayerNormEps = 1e-6;

nn::LayerNorm layer_norm(int64_t dim) {
  return nn::LayerNorm(nn::LayerNormOptions({dim}).eps(kLayerNormEps));
}

void check_tokens(const torch::Tensor& x, int64_t dim, const char* who) {
  TORCH_CHECK(x.defined() && x.dim() == 3 && x.size(2) == dim, who, ": expected tokens [B, N, ", dim,
              "], got ", x.defined() ? x.sizes() : torch::IntArrayRef{});
}

int64_t mlp_hidden(const TransformerBlockOptions& o) {
  return std::max<int64_t>(1, std::lround(o.dim() * o.mlp_ratio()));
}

}  // namespace

void init_transformer(nn::Module& module) {
  torch::NoGradGuard no_grad;
  module.apply([](nn::Module& m) {
    if (auto* linear = m.as<nn::LinearImpl>()) {
      linear->weight.normal_(0.0, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* ln = m.as<nn::LayerNormImpl>()) {
      if (ln->weight.defined()) ln->weight.fill_(1.0);
      if (ln->bias.defined()) ln->bias.zero_();
    }
  });
}

// ---- PatchEmbed ------------------------------------------------------------------------------

PatchEmbedImpl::PatchEmbedImpl(PatchEmbedOptions options_) : options(std::move(options_)) {
  const auto& o = options;
  TORCH_CHECK(o.in_channels() > 0, "PatchEmbed: in_channels must be positive, got ", o.in_channels());
  TORCH_CHECK(o.dim() > 0, "PatchEmbed: dim must be positive, got ", o.dim());
  TORCH_CHECK(o.patch_size() > 0, "PatchEmbed: patch_size must be positive, got ", o.patch_size());
  TORCH_CHECK(o.image_size() > 0 && o.image_size() % o.patch_size() == 0, "PatchEmbed: image size ",
              o.image_size(), " is not divisible by patch_size ", o.patch_size());
  reset();
}

void PatchEmbedImpl::reset() {
  const auto& o = options;
  proj = register_module(
      "proj", nn::Conv2d(nn::Conv2dOptions(o.in_channels(), o.dim(), o.patch_size()).stride(o.patch_size())));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& x) {
  detail::check_images(x, options.in_channels(), "PatchEmbed");
  TORCH_CHECK(x.size(2) == options.image_size() && x.size(3) == options.image_size(),
              "PatchEmbed: expected ", options.image_size(), "x", options.image_size(),
              " images, got a batch of shape ", x.sizes());
  return proj->forward(x).flatten(2).transpose(1, 2);  // [B, D, g, g] -> [B, g*g, D]
}

// ---- Transformer block -----------------------------------------------------------------------

namespace {
void check_block_options(const TransformerBlockOptions& o, const char* who) {
  TORCH_CHECK(o.dim() > 0, who, ": dim must be positive, got ", o.dim());
  TORCH_CHECK(o.heads() > 0, who, ": heads must be positive, got ", o.heads());
  TORCH_CHECK(o.dim() % o.heads() == 0, who, ": dim ", o.dim(), " is not divisible by heads ", o.heads());
  TORCH_CHECK(o.mlp_ratio() > 0 && std::isfinite(o.mlp_ratio()), who, ": mlp_ratio must be positive, got ",
              o.mlp_ratio());
}
}  // namespace

AttentionImpl::AttentionImpl(TransformerBlockOptions options_) : options(std::move(options_)) {
  check_block_options(options, "Attention");
  reset();
}

void AttentionImpl::reset() {
  const int64_t d = options.dim();
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(d, 3 * d).bias(options.qkv_bias())));
  proj = register_module("proj", nn::Linear(d, d));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  check_tokens(x, options.dim(), "Attention");
  return proj->forward(functional::self_attention(qkv->forward(x), options.heads()));
}

FeedForwardImpl::FeedForwardImpl(int64_t dim_, int64_t hidden_) : dim(dim_), hidden(hidden_) {
  TORCH_CHECK(dim > 0 && hidden > 0, "FeedForward: dim and hidden must be positive, got ", dim, " and ", hidden);
  reset();
}

void FeedForwardImpl::reset() {
  fc1 = register_module("fc1", nn::Linear(dim, hidden));
  fc2 = register_module("fc2", nn::Linear(hidden, dim));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  return fc2->forward(torch::gelu(fc1->forward(x)));
}

TransformerBlockImpl::TransformerBlockImpl(TransformerBlockOptions options_) : options(std::move(options_)) {
  check_block_options(options, "TransformerBlock");
  reset();
}

void TransformerBlockImpl::reset() {
  norm1 = register_module("norm1", layer_norm(options.dim()));
  attn = register_module("attn", Attention(options));
  norm2 = register_module("norm2", layer_norm(options.dim()));
  mlp = register_module("mlp", FeedForward(options.dim(), mlp_hidden(options)));
  init_transformer(*this);
}

torch::Tensor TransformerBlockImpl::forward(torch::Tensor x) {
  x = x + attn->forward(norm1->forward(x));
  return x + mlp->forward(norm2->forward(x));
}

double TransformerBlockImpl::forward_flops(int64_t tokens) const {
  const double t = static_cast<double>(tokens), d = static_cast<double>(options.dim());
  const double linear = t * d * (3 * d + d + 2.0 * mlp_hidden(options));  // qkv, proj, fc1, fc2
  const double attention = 2 * t * t * d;                                 // q k^T and attn v
  return linear + attention;
}

// ---- ViT -------------------------------------------------------------------------------------

ViTOptions::ViTOptions(int64_t in_channels, int64_t image_size)
    : in_channels_(in_channels), image_size_(image_size), patch_size_(image_size <= 64 ? 4 : 16) {}

ViTOptions ViTOptions::mini(int64_t in_channels, int64_t image_size) {
  return ViTOptions(in_channels, image_size).dim(128).depth(6).heads(4);
}

ViTImpl::ViTImpl(ViTOptions options_) : BackboneBase(std::move(options_)) {
  const auto& o = options;
  TORCH_CHECK(o.in_channels() > 0, "ViT: in_channels must be positive, got ", o.in_channels());
  TORCH_CHECK(o.image_size() > 0, "ViT: image_size must be positive, got ", o.image_size());
  TORCH_CHECK(o.patch_size() > 0, "ViT: patch_size must be positive, got ", o.patch_size());
  TORCH_CHECK(o.image_size() % o.patch_size() == 0, "ViT: image size ", o.image_size(),
              " is not divisible by patch_size ", o.patch_size());
  TORCH_CHECK(o.depth() >= 1, "ViT: depth must be >= 1, got ", o.depth());
  TORCH_CHECK(o.pool() == "cls" || o.pool() == "mean", "ViT: pool must be cls or mean, got '", o.pool(), "'");
  const auto block_options =
      TransformerBlockOptions(o.dim(), o.heads()).mlp_ratio(o.mlp_ratio()).qkv_bias(o.qkv_bias());
  check_block_options(block_options, "ViT");

  patch_embed = register_module("patch_embed",
                                PatchEmbed(PatchEmbedOptions(o.in_channels(), o.image_size(), o.patch_size(), o.dim())));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, o.dim()}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, 1 + patch_embed->num_patches(), o.dim()}));
  blocks = register_module("blocks", nn::ModuleList());
  for (int64_t i = 0; i < o.depth(); ++i) blocks->push_back(TransformerBlock(block_options));
  norm = register_module("norm", layer_norm(o.dim()));

  torch::NoGradGuard no_grad;
  cls_token.normal_(0.0, 0.02);
  pos_embed.normal_(0.0, 0.02);
  init_transformer(*norm);  // the blocks initialise themselves; the patch conv keeps the default
}

void ViTImpl::check_input(const torch::Tensor& x) const {
  detail::check_images(x, options.in_channels(), "ViT");
  TORCH_CHECK(x.size(2) == options.image_size() && x.size(3) == options.image_size(), "ViT: built for ",
              options.image_size(), "x", options.image_size(), " images, got a batch of shape ", x.sizes());
}

torch::Tensor ViTImpl::embed_patches(const torch::Tensor& x) {
  check_input(x);
  return patch_embed->forward(x) + pos_embed.narrow(1, 1, num_patches());
}

torch::Tensor ViTImpl::prepend_cls(const torch::Tensor& tokens) {
  check_tokens(tokens, options.dim(), "ViT::prepend_cls");
  auto cls = (cls_token + pos_embed.narrow(1, 0, 1)).expand({tokens.size(0), 1, options.dim()});
  return torch::cat({cls, tokens}, 1);
}

torch::Tensor ViTImpl::run_blocks(torch::Tensor tokens) {
  check_tokens(tokens, options.dim(), "ViT::run_blocks");
  for (const auto& block : *blocks) tokens = block->as<TransformerBlockImpl>()->forward(tokens);
  return tokens;
}

torch::Tensor ViTImpl::forward_tokens(const torch::Tensor& x) {
  return norm->forward(run_blocks(prepend_cls(embed_patches(x))));
}

torch::Tensor ViTImpl::forward(torch::Tensor x) {
  const auto tokens = run_blocks(prepend_cls(embed_patches(x)));
  if (options.pool() == "mean") return norm->forward(tokens.narrow(1, 1, num_patches())).mean(1);
  // LayerNorm is per token, so normalising the CLS token alone gives the same features.
  return norm->forward(tokens.select(1, 0));
}

double ViTImpl::forward_flops(int64_t height, int64_t width) const {
  const auto& o = options;
  const double patches = static_cast<double>((height / o.patch_size()) * (width / o.patch_size()));
  double macs = patches * o.dim() * o.in_channels() * o.patch_size() * o.patch_size();
  const int64_t tokens = 1 + (height / o.patch_size()) * (width / o.patch_size());
  for (const auto& block : blocks->children()) macs += block->as<TransformerBlockImpl>()->forward_flops(tokens);
  return macs;
}

std::vector<std::pair<torch::Tensor, double>> layer_decay_scales(const ViTImpl& vit, double decay) {
  TORCH_CHECK(std::isfinite(decay) && decay > 0 && decay <= 1, "train.layer_decay must be in (0, 1], got ", decay);
  const int64_t depth = vit.options.depth();
  std::vector<std::pair<torch::Tensor, double>> out;
  auto add = [&](const std::vector<torch::Tensor>& params, int64_t layer) {
    for (const auto& p : params) out.emplace_back(p, std::pow(decay, static_cast<double>(depth + 1 - layer)));
  };
  add(vit.patch_embed->parameters(), 0);
  add({vit.cls_token, vit.pos_embed}, 0);
  for (int64_t i = 0; i < depth; ++i) add((*vit.blocks)[i]->parameters(), i + 1);
  add(vit.norm->parameters(), depth + 1);
  return out;
}

void ViTImpl::pretty_print(std::ostream& stream) const {
  const auto& o = options;
  stream << "selfsup::nets::ViT(in_channels=" << o.in_channels() << ", image_size=" << o.image_size()
         << ", patch_size=" << o.patch_size() << ", dim=" << o.dim() << ", depth=" << o.depth()
         << ", heads=" << o.heads() << ", mlp_ratio=" << o.mlp_ratio() << ", pool=" << o.pool() << ")";
}

}  // namespace selfsup::nets
