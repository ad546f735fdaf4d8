// The end model of weak supervision: cross-entropy against a label model's probabilistic labels,
// -sum_c q_ic log p_ic (Snorkel's noise-aware loss), so an image the functions disagree on pulls
// towards each class by its probability rather than towards one guessed label. The labels come
// from `data.soft_labels` (a `selfsup weak label-model` folder); the network then predicts every
// image, those no function voted on included.
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class SoftLabelImpl : public SemiMethodImpl {
 public:
  static KeySet keys() { return classifier_keys(); }
  // The labels are data, not state: they are not in the checkpoint, a resumed run reads them
  // again, and a checkpoint rebuilt without them (selfsup eval) still loads.
  SoftLabelImpl(const MethodConfig& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec), targets_(spec.soft_targets) {
    TORCH_CHECK(!targets_.defined() || (targets_.dim() == 2 && targets_.size(0) == spec.num_labeled &&
                                        targets_.size(1) == spec.num_classes),
                "soft_label: the probabilistic labels must be [", spec.num_labeled, ", ", spec.num_classes, "], got ",
                targets_.defined() ? targets_.sizes() : torch::IntArrayRef{});
    if (targets_.defined()) targets_ = targets_.to(torch::kFloat32);
  }
  std::vector<std::string> unlabeled_views() const override { return {}; }
  StepOutput training_step(const Batch& b) override {
    TORCH_CHECK(targets_.defined(),
                "soft_label trains on probabilistic labels: set data.soft_labels to a `selfsup weak label-model` folder");
    TORCH_CHECK(b.indices.defined(), "soft_label needs the images' indices in the batch");
    auto logits = student->forward(b.views[0]).to(torch::kFloat32);
    // A labeled set smaller than a batch is repeated to fill it: its copies share one row.
    const auto q = targets_.index_select(0, b.indices.remainder(targets_.size(0)).to(targets_.device())).to(logits.device());
    auto loss = -(q * torch::log_softmax(logits, 1)).sum(1).mean();
    const double agree = logits.argmax(1).eq(q.argmax(1)).to(torch::kFloat64).mean().item<double>();
    return {loss, {{"train_agreement", agree}}};
  }

 private:
  torch::Tensor targets_;
};

SELFSUP_REGISTER_METHOD(SoftLabelImpl, "soft_label", Kind::kSupervised,
                        "Cross-entropy on a label model's probabilistic labels: the end model of weak supervision");

}  // namespace
}  // namespace selfsup::methods
