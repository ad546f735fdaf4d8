// Supervised: cross-entropy on the labeled batch only, same model, augmentation and schedule as
// the semi-supervised methods: the baseline every table needs. Under `selfsup pretrain` it trains
// on every training label (the supervised reference; the distributed tests check SyncBatchNorm
// with it).
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class SupervisedImpl : public SemiMethodImpl {
 public:
  static KeySet keys() { return classifier_keys(); }
  SupervisedImpl(const MethodConfig& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec) {}
  std::vector<std::string> unlabeled_views() const override { return {}; }
  StepOutput training_step(const Batch& b) override {
    TORCH_CHECK(b.labels.defined(), "supervised needs labels in the batch");
    auto logits = student->forward(b.views[0]).to(torch::kFloat32);
    auto loss = torch::nn::functional::cross_entropy(logits, b.labels);
    const double acc = logits.argmax(1).eq(b.labels).to(torch::kFloat64).mean().item<double>();
    return {loss, {{"train_acc", acc}}};
  }
};

SELFSUP_REGISTER_METHOD(SupervisedImpl, "supervised", Kind::kSupervised,
                        "Supervised: cross-entropy on the labels only (the baseline; uses labels)");

}  // namespace
}  // namespace selfsup::methods
