// Deep Co-Training (Qiao et al. 2018; losses/deep_co_training.h): a second classifier (`peer`,
// its own initialisation) beside the student, both trained on the labeled images; on the
// unlabeled ones their predictions are pulled together (Jensen-Shannon, weight
// method.unlabeled_weight, 10 in the paper) while each must keep its answer on the adversarial
// examples of the other (weight method.dif_weight, 0.5), both ramped alike. Adversarial examples:
// one FGSM step of size method.adv_eps in the network's (normalised) input space, against the true
// label on labeled images and the network's own prediction on unlabeled ones, with the running
// statistics of batch norm left untouched. The student (and its EMA) is the model evaluated.
#include <cmath>

#include "selfsup/losses/deep_co_training.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

/// One FGSM step against `net`: x + eps sign(d CE(net(x), y) / dx), without gradient.
torch::Tensor fgsm(ClassifierImpl& net, const torch::Tensor& x, const torch::Tensor& y, double eps) {
  FrozenRunningStats frozen(net);
  auto input = x.detach().clone().requires_grad_(true);
  const auto loss = torch::nn::functional::cross_entropy(net.forward(input).to(torch::kFloat32), y);
  const auto grad = torch::autograd::grad({loss}, {input})[0];
  return (x.detach() + eps * grad.sign()).detach();
}

class DeepCoTrainingImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add(unlabeled_keys({10.0, 0.4}))
        .set_default("method.mu", int64_t{1})
        .add("method.dif_weight", 0.5, "weight of the view-difference term L_dif (ramped with lambda_cot)")
        .add("method.adv_eps", 0.02, "FGSM step size in the normalised input space");
  }
  DeepCoTrainingImpl(const MethodConfig& cfg, const DataSpec& spec)
      : SemiMethodImpl(cfg, spec), dif_weight_(cfg.get<double>("method.dif_weight")),
        eps_(cfg.get<double>("method.adv_eps")) {
    TORCH_CHECK(std::isfinite(dif_weight_) && dif_weight_ >= 0, "method.dif_weight must be >= 0, got ", dif_weight_);
    TORCH_CHECK(std::isfinite(eps_) && eps_ >= 0, "method.adv_eps must be >= 0, got ", eps_);
    peer = register_module("peer", Classifier(cfg, spec));
  }
  std::vector<std::string> unlabeled_views() const override { return {"weak"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 1, "deep_co_training");
    const int64_t n = b.views[0].size(0);
    const auto x = torch::cat({b.views[0], b.unlabeled_views[0]});
    auto l1 = student->forward(x).to(torch::kFloat32), l2 = peer->forward(x).to(torch::kFloat32);
    const auto sup = torch::nn::functional::cross_entropy(l1.slice(0, 0, n), b.labels) +
                     torch::nn::functional::cross_entropy(l2.slice(0, 0, n), b.labels);
    const auto cot = functional::co_training_js(l1.slice(0, n), l2.slice(0, n));
    // Each network's adversarial examples: true labels where known, its own guesses elsewhere.
    const auto y1 = torch::cat({b.labels, l1.slice(0, n).argmax(1).detach()});
    const auto y2 = torch::cat({b.labels, l2.slice(0, n).argmax(1).detach()});
    const auto adv1 = fgsm(*student, x, y1, eps_), adv2 = fgsm(*peer, x, y2, eps_);
    torch::Tensor l1_on_adv2, l2_on_adv1;
    {
      FrozenRunningStats f1(*student), f2(*peer);
      l1_on_adv2 = student->forward(adv2).to(torch::kFloat32);
      l2_on_adv1 = peer->forward(adv1).to(torch::kFloat32);
    }
    const auto dif = functional::co_training_view_difference(l1, l2, l1_on_adv2, l2_on_adv1);
    auto out = combine(sup, cot, {{"dif_loss", dif.item<double>()}});
    out.loss = out.loss + unlabeled_ramp() * dif_weight_ * dif;
    torch::NoGradGuard no_grad;
    out.metrics["agreement"] =
        l1.slice(0, n).argmax(1).eq(l2.slice(0, n).argmax(1)).to(torch::kFloat64).mean().item<double>();
    return out;
  }

  Classifier peer{nullptr};

 private:
  double dif_weight_, eps_;
};

SELFSUP_REGISTER_METHOD(DeepCoTrainingImpl, "deep_co_training", Kind::kSemiSupervised,
                        "Deep Co-Training: two networks agree on unlabeled images, each resisting the other's "
                        "adversarial examples (Qiao et al. 2018)");

}  // namespace
}  // namespace selfsup::methods
