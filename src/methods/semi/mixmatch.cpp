// MixMatch (Berthelot et al. 2019): guess each unlabeled image's label as the sharpened (T 0.5)
// average prediction over K = 2 weak views, MixUp (alpha 0.75, lam = max(lam, 1 - lam)) the
// labeled and unlabeled images with their (guessed) labels, then cross-entropy on the mixed
// labeled part and squared error on the mixed unlabeled part; weight 75 (the paper's CIFAR-10
// value; USB uses 100), ramped linearly over the paper's first 16384 steps (1024k images at batch
// 64), not over a share of the run: over a share, a short run brings the weight to full strength
// while the guesses are still near uniform, and the squared error to them then pins every
// prediction to uniform. The guessing passes keep BatchNorm's running statistics unchanged (USB
// freezes them too).
#include "selfsup/core/runtime.h"
#include "selfsup/losses/consistency.h"
#include "selfsup/losses/mixup.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class MixMatchImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add(unlabeled_keys({75.0, 0.0, /*ramp_steps=*/16384}))
        .add("method.temperature", 0.5, "sharpening temperature of the label guess")
        .add("method.mixup_alpha", 0.75, "Beta(alpha, alpha) of MixUp's coefficient");
  }
  MixMatchImpl(const MethodConfig& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec), num_classes_(spec.num_classes) {
    temperature_ = cfg.get<double>("method.temperature");
    mixup_.alpha(cfg.get<double>("method.mixup_alpha"));
    TORCH_CHECK(temperature_ > 0, "method.temperature must be positive, got ", temperature_);
  }
  std::vector<std::string> unlabeled_views() const override { return {"weak", "weak"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "mixmatch");
    const int64_t n_labeled = b.views[0].size(0);
    torch::Tensor guess;
    {
      torch::NoGradGuard no_grad;
      FrozenRunningStats frozen(*student);
      auto l = forward_together({b.unlabeled_views[0], b.unlabeled_views[1]});
      guess = functional::sharpen((torch::softmax(l[0], 1) + torch::softmax(l[1], 1)) / 2, temperature_);
    }
    auto onehot = torch::nn::functional::one_hot(b.labels, num_classes_).to(torch::kFloat32);
    auto x = torch::cat({b.views[0], b.unlabeled_views[0], b.unlabeled_views[1]});
    auto y = torch::cat({onehot, guess, guess});
    auto gen = make_generator(derive_seed(seed_, "mixup") + static_cast<uint64_t>(completed_steps()));
    auto mixed = functional::mixup(x, y, mixup_, gen);
    auto logits = student->forward(mixed.inputs).to(torch::kFloat32);
    auto lx = logits.slice(0, 0, n_labeled), lu = logits.slice(0, n_labeled);
    auto tx = mixed.targets.slice(0, 0, n_labeled), tu = mixed.targets.slice(0, n_labeled);
    auto sup = -(tx * torch::log_softmax(lx, 1)).sum(1).mean();
    auto unsup = functional::softmax_mse_loss(lu, tu);
    return combine(sup, unsup, {{"mixup_lam", mixed.lam}});
  }

 private:
  int64_t num_classes_;
  double temperature_;
  functional::MixUpOptions mixup_;
};

SELFSUP_REGISTER_METHOD(MixMatchImpl, "mixmatch", Kind::kSemiSupervised,
                        "MixMatch: sharpened label guesses and MixUp (Berthelot et al. 2019)");

}  // namespace
}  // namespace selfsup::methods
