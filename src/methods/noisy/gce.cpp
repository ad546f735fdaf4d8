// Generalized cross-entropy (Zhang & Sabuncu 2018) on the labels as given: the supervised
// baseline's model and schedule with L_q (losses/gce.h) in place of cross-entropy, for labels that
// may be wrong (data.label_noise).
#include "selfsup/losses/gce.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class GceImpl : public SemiMethodImpl {
 public:
  static KeySet keys() { return classifier_keys().add("method.q", 0.7, "the exponent q of L_q, in (0, 1]"); }
  GceImpl(const MethodConfig& cfg, const DataSpec& spec)
      : SemiMethodImpl(cfg, spec), options_(functional::GceOptions().q(cfg.get<double>("method.q"))) {
    (void)functional::generalized_cross_entropy(torch::zeros({1, 2}), torch::zeros({1}, torch::kLong), options_);
  }
  std::vector<std::string> unlabeled_views() const override { return {}; }
  StepOutput training_step(const Batch& b) override {
    TORCH_CHECK(b.labels.defined(), "gce needs labels in the batch");
    auto logits = student->forward(b.views[0]).to(torch::kFloat32);
    auto loss = functional::generalized_cross_entropy(logits, b.labels, options_);
    const double acc = logits.argmax(1).eq(b.labels).to(torch::kFloat64).mean().item<double>();
    return {loss, {{"train_acc", acc}}};
  }

 private:
  functional::GceOptions options_;
};

SELFSUP_REGISTER_METHOD(GceImpl, "gce", Kind::kSupervised,
                        "Generalized cross-entropy L_q for noisy labels (Zhang & Sabuncu 2018; uses labels)");

}  // namespace
}  // namespace selfsup::methods
