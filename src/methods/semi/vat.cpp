// VAT (Miyato et al. 2018): the prediction must not change under the adversarial perturbation of
// norm eps that changes it most (one power iteration), plus entropy minimization 0.06; weight
// 0.3, ramped over the first 40% (USB); the entropy term is added outside the weight and ramp. Perturbed forward passes keep BatchNorm's running
// statistics unchanged (USB freezes them too).
#include "selfsup/core/runtime.h"
#include "selfsup/losses/vat.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class VATImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add(unlabeled_keys({0.3, 0.4}))
        .add("method.xi", 1e-6, "finite-difference step of the power iteration")
        .add("method.eps", 6.0, "norm of the adversarial perturbation")
        .add("method.power_iterations", int64_t{1}, "power iterations")
        .add("method.entropy_weight", 0.06, "weight of entropy minimization (outside lambda_u and its ramp)");
  }
  VATImpl(const MethodConfig& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec) {
    options_.xi(cfg.get<double>("method.xi")).eps(cfg.get<double>("method.eps"))
        .iterations(cfg.get<int64_t>("method.power_iterations"));
    entropy_weight_ = cfg.get<double>("method.entropy_weight");
    TORCH_CHECK(entropy_weight_ >= 0, "method.entropy_weight must be >= 0, got ", entropy_weight_);
  }
  std::vector<std::string> unlabeled_views() const override { return {"weak"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 1, "vat");
    auto l = forward_together({b.views[0], b.unlabeled_views[0]});
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    // The step's own generator: the random start is a pure function of (seed, step).
    auto gen = make_generator(derive_seed(seed_, "vat") + static_cast<uint64_t>(completed_steps()));
    torch::Tensor unsup;
    {
      FrozenRunningStats frozen(*student);
      auto model = [this](const torch::Tensor& x) { return student->forward(x).to(torch::kFloat32); };
      unsup = functional::vat_loss(model, b.unlabeled_views[0], l[1].detach(), options_, gen);
    }
    // As USB: entropy minimization is added with its own weight, outside lambda_u and the ramp.
    return combine(sup + entropy_weight_ * functional::entropy_loss(l[1]), unsup);
  }

 private:
  functional::VATOptions options_;
  double entropy_weight_;
};

SELFSUP_REGISTER_METHOD(VATImpl, "vat", Kind::kSemiSupervised,
                        "VAT: smoothness under the adversarial perturbation, any input rank (Miyato et al. 2018)");

}  // namespace
}  // namespace selfsup::methods
