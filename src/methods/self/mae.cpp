// MAE (He et al. 2021): the ViT encoder sees a random quarter of each image's patches; a narrow
// decoder predicts the pixels of the hidden ones from them.
#include <cmath>

#include "selfsup/dist/dist.h"
#include "selfsup/losses/mae.h"
#include "selfsup/core/runtime.h"
#include "selfsup/methods/mae.h"
#include "selfsup/methods/method.h"
#include "selfsup/nets/mae.h"
#include "selfsup/nets/vit.h"

namespace selfsup::methods {
namespace {

class MaeImpl : public MethodImpl, public Reconstructs {
 public:
  static KeySet keys() {
    return KeySet()
        .add("method.mask_ratio", 0.75, "share of each image's patches hidden from the encoder, in (0, 1)")
        .add("method.norm_pix", true, "standardise each target patch (its mean, unbiased variance + 1e-6)")
        .add("method.decoder_dim", int64_t{64}, "decoder width, at most the encoder's (model.dim)")
        .add("method.decoder_depth", int64_t{2}, "decoder transformer blocks")
        .add("method.decoder_heads", int64_t{4}, "decoder attention heads")
        .add("method.picture_every_epochs", int64_t{5}, "draw reconstructions.png every this many epochs (0: at the end only)");
  }
  MaeImpl(const MethodConfig& cfg, const DataSpec& spec)
      : mask_ratio_(cfg.get<double>("method.mask_ratio")),
        picture_every_(cfg.get<int64_t>("method.picture_every_epochs")),
        seed_(spec.seed) {
    TORCH_CHECK(picture_every_ >= 0, "method.picture_every_epochs must be >= 0, got ", picture_every_);
    backbone_ = register_module("backbone", nets::make_backbone(cfg.config(), spec.channels, spec.image_size));
    vit_ = std::dynamic_pointer_cast<nets::ViTImpl>(backbone_);
    TORCH_CHECK(vit_, "mae needs a ViT encoder: model.backbone must be vit or vit_mini, got ",
                cfg.config().get<std::string>("model.backbone", "(the default)"));
    const auto& v = vit_->options;
    TORCH_CHECK(std::isfinite(mask_ratio_) && mask_ratio_ > 0 && mask_ratio_ < 1,
                "method.mask_ratio must be in (0, 1), got ", mask_ratio_);
    nets::visible_count(vit_->num_patches(), mask_ratio_);  // one patch at least stays visible, one is hidden
    const auto dim = cfg.get<int64_t>("method.decoder_dim");
    TORCH_CHECK(dim <= v.dim(), "method.decoder_dim must be at most the encoder's width (model.dim = ", v.dim(),
                "), got ", dim);
    // The encoder's position embedding is the fixed sine-cosine one, as the reference code's.
    torch::NoGradGuard no_grad;
    vit_->pos_embed.copy_(nets::sincos_pos_embed_2d(v.dim(), v.image_size() / v.patch_size()).unsqueeze(0));
    vit_->pos_embed.set_requires_grad(false);
    decoder_ = register_module(
        "decoder", nets::MaeDecoder(nets::MaeDecoderOptions(v.dim(), vit_->num_patches(),
                                                            v.patch_size() * v.patch_size() * v.in_channels())
                                        .dim(dim)
                                        .depth(cfg.get<int64_t>("method.decoder_depth"))
                                        .heads(cfg.get<int64_t>("method.decoder_heads"))));
    loss_options_.norm_pix(cfg.get<bool>("method.norm_pix"));
    step_ = register_buffer("step", torch::zeros({1}, torch::kLong));
  }
  int64_t num_views() const override { return 1; }

  StepOutput training_step(const Batch& b) override {
    const auto& x = b.views[0];
    // The buffer is read once, after a checkpoint may have set it: reading it every step would
    // wait for the GPU every step.
    if (steps_done_ < 0) steps_done_ = step_.item<int64_t>();
    auto gen = make_generator(derive_seed(seed_, "mae-mask-" + std::to_string(dist::rank())) +
                              static_cast<uint64_t>(steps_done_));
    auto noise = torch::rand({x.size(0), vit_->num_patches()}, gen, torch::kFloat);
    auto out = nets::mae_forward(*vit_, *decoder_, x, mask_ratio_, noise);
    auto loss = functional::mae_loss(out.pred, nets::patchify(x, vit_->options.patch_size()), out.mask, loss_options_);
    return {loss, {}};
  }
  void after_optimizer_step(int64_t step, int64_t) override {
    steps_done_ = step;
    step_.fill_(step);
  }
  nets::Backbone encoder() const override { return backbone_; }

  Reconstruction reconstruct(const torch::Tensor& x, const torch::Tensor& noise) override {
    torch::NoGradGuard no_grad;
    return nets::mae_images(x, nets::mae_forward(*vit_, *decoder_, x, mask_ratio_, noise), vit_->options.patch_size(),
                            loss_options_.norm_pix(), loss_options_.eps());
  }
  int64_t num_patches() const override { return vit_->num_patches(); }
  int64_t picture_every_epochs() const override { return picture_every_; }

 private:
  double mask_ratio_;
  int64_t picture_every_;
  uint64_t seed_;
  losses::MaeLossOptions loss_options_;
  nets::Backbone backbone_;
  std::shared_ptr<nets::ViTImpl> vit_;
  nets::MaeDecoder decoder_{nullptr};
  torch::Tensor step_;        // steps done, saved in checkpoints: the masks of a resumed run go on
  int64_t steps_done_ = -1;  // its value on the host, -1 until read
};

SELFSUP_REGISTER_METHOD(MaeImpl, "mae", Kind::kSelfSupervised,
                        "MAE: a ViT encodes a random quarter of the patches, a narrow decoder predicts the rest (He et al. 2021)");

}  // namespace
}  // namespace selfsup::methods
