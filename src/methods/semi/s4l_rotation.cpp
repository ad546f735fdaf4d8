// S4L-Rotation (Zhai et al. 2019): the classifier's cross-entropy on the labeled images plus a
// 4-way rotation head on the same backbone that predicts which of the four rotations each labeled
// and unlabeled image was shown in (losses/rotation.h), every image in all four. All 4(1 + mu)B
// images go through the backbone as one batch; the labeled images' unrotated copies feed the
// classifier. The rotation weight (method.unlabeled_weight) is 1, as in the paper.
#include "selfsup/losses/rotation.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class S4LRotationImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys().add(unlabeled_keys({1.0, 0.0})).set_default("method.mu", int64_t{1});
  }
  S4LRotationImpl(const MethodConfig& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec) {
    rotation_head = register_module("rotation_head", torch::nn::Linear(student->backbone->feature_dim(), 4));
  }
  std::vector<std::string> unlabeled_views() const override { return {"weak"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 1, "s4l_rotation");
    const int64_t n = b.views[0].size(0);
    const auto r = functional::four_rotations(torch::cat({b.views[0], b.unlabeled_views[0]}));
    const auto features = student->backbone->forward(r.images);
    const auto rot_logits = rotation_head->forward(features).to(torch::kFloat32);
    const auto logits = student->classify(features.slice(0, 0, n)).to(torch::kFloat32);
    auto out = combine(torch::nn::functional::cross_entropy(logits, b.labels),
                       functional::rotation_loss(rot_logits, r.labels));
    torch::NoGradGuard no_grad;
    out.metrics["rotation_acc"] = rot_logits.argmax(1).eq(r.labels).to(torch::kFloat64).mean().item<double>();
    return out;
  }

  torch::nn::Linear rotation_head{nullptr};
};

SELFSUP_REGISTER_METHOD(S4LRotationImpl, "s4l_rotation", Kind::kSemiSupervised,
                        "S4L-Rotation: a 4-way rotation head on labeled and unlabeled images (Zhai et al. 2019)");

}  // namespace
}  // namespace selfsup::methods
