// Co-teaching (Han et al. 2018) for noisy labels: a second classifier (`peer`, same architecture,
// its own initialisation) beside the student; each keeps the small-loss fraction of the batch and
// the other trains on it (losses/co_teaching.h). The forget rate ramps from 0 to method.forget_rate
// over method.forget_ramp_epochs epochs of the labeled set. The student (and its EMA) is the model
// evaluated and exported, as the paper reports the first network.
#include "selfsup/dist/dist.h"
#include "selfsup/losses/co_teaching.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class CoTeachingImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add("method.forget_rate", 0.2, "tau: the share of each batch dropped once ramped (the paper: the noise rate)")
        .add("method.forget_ramp_epochs", 10.0, "epochs of the labeled set over which the forget rate ramps from 0 to tau");
  }
  CoTeachingImpl(const MethodConfig& cfg, const DataSpec& spec)
      : SemiMethodImpl(cfg, spec),
        tau_(cfg.get<double>("method.forget_rate")),
        ramp_epochs_(cfg.get<double>("method.forget_ramp_epochs")),
        num_labeled_(spec.num_labeled) {
    (void)functional::co_teaching_forget_rate(0, tau_, ramp_epochs_);  // refuses a bad tau or ramp now
    TORCH_CHECK(num_labeled_ > 0, "co_teaching counts epochs of the labeled set and needs its size (run it with `selfsup semi`)");
    peer = register_module("peer", Classifier(cfg, spec));
  }
  std::vector<std::string> unlabeled_views() const override { return {}; }
  StepOutput training_step(const Batch& b) override {
    TORCH_CHECK(b.labels.defined(), "co_teaching needs labels in the batch");
    const double seen = static_cast<double>(completed_steps()) * static_cast<double>(b.labels.size(0)) *
                        static_cast<double>(dist::world_size());
    const double rate = functional::co_teaching_forget_rate(seen / static_cast<double>(num_labeled_), tau_, ramp_epochs_);
    auto la = student->forward(b.views[0]).to(torch::kFloat32);
    auto lb = peer->forward(b.views[0]).to(torch::kFloat32);
    auto out = functional::co_teaching_loss(la, lb, b.labels, functional::CoTeachingOptions().forget_rate(rate));
    auto loss = out.loss_a + out.loss_b;  // each network's gradient comes from its own term only
    torch::NoGradGuard no_grad;
    const auto agree = out.selected_a.unsqueeze(1).eq(out.selected_b.unsqueeze(0)).any(1);
    std::map<std::string, double> m{{"forget_rate", rate},
                                    {"loss_a", out.loss_a.item<double>()},
                                    {"loss_b", out.loss_b.item<double>()},
                                    {"selection_overlap", agree.to(torch::kFloat64).mean().item<double>()},
                                    {"train_acc", la.argmax(1).eq(b.labels).to(torch::kFloat64).mean().item<double>()}};
    return {loss, std::move(m)};
  }

  Classifier peer{nullptr};

 private:
  double tau_, ramp_epochs_;
  int64_t num_labeled_;
};

SELFSUP_REGISTER_METHOD(CoTeachingImpl, "co_teaching", Kind::kSupervised,
                        "Co-teaching: two networks exchange small-loss samples (Han et al. 2018; uses labels)");

}  // namespace
}  // namespace selfsup::methods
