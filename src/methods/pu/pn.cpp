// PN: the supervised positive-vs-negative classifier trained on the true labels of the unlabeled
// images (and the labeled positives as positives), with the same model, views and schedule as the
// PU methods: the upper bound they are measured against. It is the one method that reads
// batch.unlabeled_true_labels, which a PU method never has.
#include "selfsup/dist/dist.h"
#include "selfsup/losses/pu.h"
#include "selfsup/methods/pu.h"

namespace selfsup::methods {
namespace {

class PnImpl : public PuMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys(/*mu=*/8)
        .add("method.loss", std::string("logistic"), "the margin loss l: logistic (cross-entropy) or sigmoid");
  }
  PnImpl(const MethodConfig& cfg, const DataSpec& spec) : PuMethodImpl(cfg, spec) {
    loss_ = functional::pu_loss_from_name(cfg.get<std::string>("method.loss"), "method.loss");
  }
  bool uses_labels() const override { return true; }
  StepOutput training_step(const Batch& b) override {
    check_pu_batch(b, "pn");
    TORCH_CHECK(b.unlabeled_true_labels.defined(), "pn trains on the unlabeled images' true labels, which this batch lacks");
    const auto [g_pos, g_unl] = batch_scores(b);
    // Every rank's true labels, in the order of the gathered scores.
    const auto truth = dist::all_gather(b.unlabeled_true_labels.to(g_unl.device()));
    const auto y = torch::cat({torch::ones_like(g_pos), truth.to(g_unl.scalar_type())});
    const auto g = torch::cat({g_pos, g_unl});
    // y = 1: l(g); y = 0: l(-g), the margin of the sign the label asks for.
    auto loss = functional::pu_margin_loss(g * (2 * y - 1), loss_).mean();
    torch::NoGradGuard no_grad;
    const double acc = (g > 0).to(y.scalar_type()).eq(y).to(torch::kFloat64).mean().item<double>();
    return {loss, {{"train_acc", acc}}};
  }

 private:
  functional::PuLoss loss_;
};

SELFSUP_REGISTER_METHOD(PnImpl, "pn", Kind::kPositiveUnlabeled,
                        "PN: supervised positive vs negative on the true labels (the upper bound; uses labels)");

}  // namespace
}  // namespace selfsup::methods
