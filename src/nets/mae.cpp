#include "selfsup/nets/mae.h"

#include <cmath>

#include "common.h"
#include "selfsup/nets/vit.h"

namespace selfsup::nets {

namespace nn = torch::nn;

namespace {

int64_t square_side(int64_t n) {
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  return side * side == n ? side : -1;
}

// Xavier-uniform Linear weights, zero biases (the MAE reference code's init of every Linear).
void init_xavier(nn::Module& module) {
  torch::NoGradGuard no_grad;
  module.apply([](nn::Module& m) {
    if (auto* linear = m.as<nn::LinearImpl>()) {
      nn::init::xavier_uniform_(linear->weight);
      if (linear->bias.defined()) linear->bias.zero_();
    }
  });
}

}  // namespace

torch::Tensor patchify(const torch::Tensor& images, int64_t patch_size) {
  TORCH_CHECK(images.defined() && images.dim() == 4, "patchify: expected images [N, C, H, W], got ",
              images.defined() ? images.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(patch_size > 0, "patchify: patch_size must be positive, got ", patch_size);
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  TORCH_CHECK(h % patch_size == 0 && w % patch_size == 0, "patchify: patch_size ", patch_size,
              " does not divide the image size ", h, "x", w);
  const int64_t gh = h / patch_size, gw = w / patch_size;
  // [N, C, gh, p, gw, q] -> [N, gh, gw, p, q, C]
  return images.reshape({n, c, gh, patch_size, gw, patch_size})
      .permute({0, 2, 4, 3, 5, 1})
      .reshape({n, gh * gw, patch_size * patch_size * c});
}

torch::Tensor unpatchify(const torch::Tensor& patches, int64_t patch_size, int64_t channels) {
  TORCH_CHECK(patches.defined() && patches.dim() == 3, "unpatchify: expected patches [N, L, P], got ",
              patches.defined() ? patches.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(patch_size > 0 && channels > 0, "unpatchify: patch_size and channels must be positive, got ", patch_size,
              " and ", channels);
  const int64_t n = patches.size(0), l = patches.size(1), g = square_side(l);
  TORCH_CHECK(g > 0, "unpatchify: ", l, " patches do not form a square grid");
  TORCH_CHECK(patches.size(2) == patch_size * patch_size * channels, "unpatchify: patches of ", patches.size(2),
              " values are not ", patch_size, "x", patch_size, "x", channels);
  return patches.reshape({n, g, g, patch_size, patch_size, channels})
      .permute({0, 5, 1, 3, 2, 4})
      .reshape({n, channels, g * patch_size, g * patch_size});
}

int64_t visible_count(int64_t length, double ratio) {
  TORCH_CHECK(std::isfinite(ratio) && ratio > 0 && ratio < 1, "mask ratio must be in (0, 1), got ", ratio);
  const auto keep = static_cast<int64_t>(std::llround(static_cast<double>(length) * (1.0 - ratio)));
  TORCH_CHECK(keep >= 1 && keep < length, "mask ratio ", ratio, " keeps ", keep, " of ", length,
              " patches: at least one must stay visible and one be masked");
  return keep;
}

RandomMasking random_masking(const torch::Tensor& tokens, double ratio, const torch::Tensor& noise) {
  TORCH_CHECK(tokens.defined() && tokens.dim() == 3, "random_masking: expected tokens [N, L, D], got ",
              tokens.defined() ? tokens.sizes() : torch::IntArrayRef{});
  const int64_t n = tokens.size(0), l = tokens.size(1), d = tokens.size(2);
  TORCH_CHECK(noise.defined() && noise.dim() == 2 && noise.size(0) == n && noise.size(1) == l,
              "random_masking: noise must be [N, L] = [", n, ", ", l, "], got ",
              noise.defined() ? noise.sizes() : torch::IntArrayRef{});
  const int64_t keep = visible_count(l, ratio);
  const auto ids_shuffle = noise.to(tokens.device()).argsort(/*dim=*/int64_t{1});  // ascending: the smallest are kept
  RandomMasking out;
  out.ids_restore = ids_shuffle.argsort(/*dim=*/int64_t{1});
  const auto ids_keep = ids_shuffle.narrow(1, 0, keep);
  out.visible = tokens.gather(1, ids_keep.unsqueeze(-1).expand({n, keep, d}));
  // 0 for the first `keep` positions of the shuffled order, 1 after; unshuffled by ids_restore.
  auto shuffled = torch::ones({n, l}, tokens.options().dtype(torch::kFloat));
  shuffled.narrow(1, 0, keep).zero_();
  out.mask = shuffled.gather(1, out.ids_restore);
  return out;
}

torch::Tensor sincos_pos_embed_2d(int64_t dim, int64_t grid_size) {
  TORCH_CHECK(dim > 0 && dim % 4 == 0, "sincos_pos_embed_2d: dim must be a positive multiple of 4, got ", dim);
  TORCH_CHECK(grid_size > 0, "sincos_pos_embed_2d: grid_size must be positive, got ", grid_size);
  const int64_t quarter = dim / 4;
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  const auto omega = torch::pow(10000.0, -torch::arange(quarter, opts) / static_cast<double>(quarter));
  const auto pos = torch::arange(grid_size, opts);
  const auto col = pos.repeat({grid_size});                          // position l = row * g + col
  const auto row = pos.repeat_interleave(grid_size);
  auto encode = [&](const torch::Tensor& p) {
    const auto angles = p.unsqueeze(1) * omega.unsqueeze(0);  // [g*g, dim/4]
    return torch::cat({angles.sin(), angles.cos()}, 1);
  };
  const auto grid = torch::cat({encode(col), encode(row)}, 1);
  return torch::cat({torch::zeros({1, dim}, opts), grid}, 0).to(torch::kFloat);
}

MaeDecoderImpl::MaeDecoderImpl(MaeDecoderOptions options_) : options(std::move(options_)) { reset(); }

void MaeDecoderImpl::reset() {
  const auto& o = options;
  TORCH_CHECK(o.encoder_dim() > 0, "MaeDecoder: encoder_dim must be positive, got ", o.encoder_dim());
  TORCH_CHECK(o.patch_pixels() > 0, "MaeDecoder: patch_pixels must be positive, got ", o.patch_pixels());
  const int64_t g = square_side(o.num_patches());
  TORCH_CHECK(o.num_patches() > 0 && g > 0, "MaeDecoder: num_patches must be a square number, got ", o.num_patches());
  TORCH_CHECK(o.depth() >= 1, "MaeDecoder: depth must be >= 1, got ", o.depth());
  TORCH_CHECK(o.dim() > 0 && o.dim() % 4 == 0, "MaeDecoder: dim must be a positive multiple of 4 (its sine-cosine "
              "position embedding), got ", o.dim());
  const auto block = TransformerBlockOptions(o.dim(), o.heads()).mlp_ratio(o.mlp_ratio());
  decoder_embed = register_module("decoder_embed", nn::Linear(o.encoder_dim(), o.dim()));
  mask_token = register_parameter("mask_token", torch::zeros({1, 1, o.dim()}));
  decoder_pos_embed = register_buffer("decoder_pos_embed", sincos_pos_embed_2d(o.dim(), g).unsqueeze(0));
  decoder_blocks = register_module("decoder_blocks", nn::ModuleList());
  for (int64_t i = 0; i < o.depth(); ++i) decoder_blocks->push_back(TransformerBlock(block));
  decoder_norm = register_module("decoder_norm", nn::LayerNorm(nn::LayerNormOptions({o.dim()}).eps(1e-6)));
  decoder_pred = register_module("decoder_pred", nn::Linear(o.dim(), o.patch_pixels()));
  init_xavier(*this);
  torch::NoGradGuard no_grad;
  mask_token.normal_(0.0, 0.02);
}

torch::Tensor MaeDecoderImpl::forward(const torch::Tensor& encoded, const torch::Tensor& ids_restore) {
  const auto& o = options;
  TORCH_CHECK(encoded.defined() && encoded.dim() == 3 && encoded.size(2) == o.encoder_dim() && encoded.size(1) >= 2,
              "MaeDecoder: expected encoded tokens [N, 1 + visible, ", o.encoder_dim(), "], got ",
              encoded.defined() ? encoded.sizes() : torch::IntArrayRef{});
  const int64_t n = encoded.size(0), l = o.num_patches(), visible = encoded.size(1) - 1;
  TORCH_CHECK(ids_restore.defined() && ids_restore.dim() == 2 && ids_restore.size(0) == n && ids_restore.size(1) == l,
              "MaeDecoder: ids_restore must be [N, L] = [", n, ", ", l, "], got ",
              ids_restore.defined() ? ids_restore.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(visible < l, "MaeDecoder: ", visible, " visible tokens leave no patch of ", l, " masked");
  // Under autocast the embedding comes out in bf16; the residual stream stays in the parameters'
  // dtype, as the encoder's does (LibTorch 1.13's CPU LayerNorm refuses bf16 input with fp32
  // weights), and only the Linear layers inside the blocks run in bf16.
  auto x = decoder_embed->forward(encoded).to(mask_token.scalar_type());
  auto patches = torch::cat({x.narrow(1, 1, visible), mask_token.expand({n, l - visible, o.dim()})}, 1);
  patches = patches.gather(1, ids_restore.unsqueeze(-1).expand({n, l, o.dim()}));  // back to the image's order
  x = torch::cat({x.narrow(1, 0, 1), patches}, 1) + decoder_pos_embed;
  for (const auto& b : *decoder_blocks) x = b->as<TransformerBlockImpl>()->forward(x);
  return decoder_pred->forward(decoder_norm->forward(x)).narrow(1, 1, l);
}

double MaeDecoderImpl::forward_flops() const {
  const auto& o = options;
  const int64_t tokens = 1 + o.num_patches();
  double macs = static_cast<double>(tokens) * (o.encoder_dim() * o.dim() + o.dim() * o.patch_pixels());
  for (const auto& b : decoder_blocks->children()) macs += b->as<TransformerBlockImpl>()->forward_flops(tokens);
  return macs;
}

MaePrediction mae_forward(ViTImpl& encoder, MaeDecoderImpl& decoder, const torch::Tensor& images, double mask_ratio,
                          const torch::Tensor& noise) {
  auto m = random_masking(encoder.embed_patches(images), mask_ratio, noise);
  auto encoded = encoder.norm->forward(encoder.run_blocks(encoder.prepend_cls(m.visible)));
  return {decoder.forward(encoded, m.ids_restore), m.mask};
}

MaeImages mae_images(const torch::Tensor& images, const MaePrediction& p, int64_t patch_size, bool norm_pix,
                     double eps) {
  const int64_t c = images.size(1);
  const auto target = patchify(images, patch_size).to(torch::kFloat);
  auto pred = p.pred.to(torch::kFloat);
  if (norm_pix) {
    const auto var = target.var(torch::IntArrayRef{-1}, /*unbiased=*/true, /*keepdim=*/true);
    pred = pred * (var + eps).sqrt() + target.mean(-1, /*keepdim=*/true);
  }
  const auto hidden = p.mask.unsqueeze(-1).to(torch::kFloat);
  return {p.mask, unpatchify(target * (1 - hidden), patch_size, c), unpatchify(pred, patch_size, c),
          unpatchify(target * (1 - hidden) + pred * hidden, patch_size, c)};
}

void MaeDecoderImpl::pretty_print(std::ostream& stream) const {
  const auto& o = options;
  stream << "selfsup::nets::MaeDecoder(encoder_dim=" << o.encoder_dim() << ", num_patches=" << o.num_patches()
         << ", patch_pixels=" << o.patch_pixels() << ", dim=" << o.dim() << ", depth=" << o.depth()
         << ", heads=" << o.heads() << ")";
}

}  // namespace selfsup::nets
