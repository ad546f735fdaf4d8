// Early-learning regularization (Liu et al. 2020) for noisy labels: cross-entropy plus
// lambda log(1 - <t_i, p_i>), t_i the running average of example i's own predictions
// (losses/elr.h), kept as a buffer so a resumed run continues with the same targets. Of the
// current noisy-label methods it is the one that fits this toolkit's loop as it is: one network,
// one loss, no per-epoch mixture fitting or co-divided data sets (DivideMix needs two networks, a
// GMM over the losses every epoch and MixMatch on the split), with published figures close to
// DivideMix's at 40-50% symmetric noise.
#include "selfsup/losses/elr.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class ElrImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add("method.elr_beta", 0.7, "momentum of each example's target, in [0, 1)")
        .add("method.elr_lambda", 3.0, "weight of the regulariser, >= 0");
  }
  ElrImpl(const MethodConfig& cfg, const DataSpec& spec)
      : SemiMethodImpl(cfg, spec),
        options_(functional::ElrOptions().beta(cfg.get<double>("method.elr_beta")).lambda(cfg.get<double>("method.elr_lambda"))) {
    TORCH_CHECK(spec.num_labeled > 0, "elr keeps a target per labeled image and needs the size of the labeled set (run it with `selfsup semi`)");
    targets_ = register_buffer("elr_targets", torch::zeros({spec.num_labeled, spec.num_classes}));
    auto probe = torch::zeros({1, spec.num_classes});
    (void)functional::elr_loss(torch::zeros({1, spec.num_classes}), torch::zeros({1}, torch::kLong), probe,
                               torch::zeros({1}, torch::kLong), options_);
  }
  std::vector<std::string> unlabeled_views() const override { return {}; }
  StepOutput training_step(const Batch& b) override {
    TORCH_CHECK(b.labels.defined() && b.indices.defined(), "elr needs labels and indices in the batch");
    auto logits = student->forward(b.views[0]).to(torch::kFloat32);
    // A labeled set smaller than a batch is repeated to fill it: its copies share one target.
    const auto idx = b.indices.remainder(targets_.size(0));
    auto loss = functional::elr_loss(logits, b.labels, targets_, idx, options_);
    const double acc = logits.argmax(1).eq(b.labels).to(torch::kFloat64).mean().item<double>();
    return {loss, {{"train_acc", acc}}};
  }

 private:
  functional::ElrOptions options_;
  torch::Tensor targets_;
};

SELFSUP_REGISTER_METHOD(ElrImpl, "elr", Kind::kSupervised,
                        "Early-learning regularization for noisy labels (Liu et al. 2020; uses labels)");

}  // namespace
}  // namespace selfsup::methods
