// VPU (Chen et al. 2020): needs no class prior. Phi = sigmoid(g) minimises the variational bound
// log E_u[Phi] - E_p[log Phi] plus, at weight 0.3, the MixUp consistency of Phi between unlabeled
// images mixed with labeled positives (lam ~ Beta(0.3, 0.3), one per batch; losses/vpu.h). Each
// unlabeled image of the batch is mixed with a labeled positive of the same batch drawn at
// random (the reference code draws equal-sized batches and pairs them by a permutation; with mu
// unlabeled images per positive, a positive serves several). As in the reference code, Phi is
// defined up to its scale: the decision is Phi(x) / max Phi over the unlabeled training images
// >= 1/2, the maximum taken after training.
#include <cmath>

#include "selfsup/core/runtime.h"
#include "selfsup/dist/dist.h"
#include "selfsup/losses/mixup.h"
#include "selfsup/losses/vpu.h"
#include "selfsup/methods/pu.h"

namespace selfsup::methods {
namespace {

class VpuImpl : public PuMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys(/*mu=*/1)
        .add("method.mix_alpha", 0.3, "Beta(alpha, alpha) of the MixUp coefficient")
        .add("method.mix_weight", 0.3, "weight of the MixUp consistency term");
  }
  VpuImpl(const MethodConfig& cfg, const DataSpec& spec) : PuMethodImpl(cfg, spec) {
    alpha_ = cfg.get<double>("method.mix_alpha");
    weight_ = cfg.get<double>("method.mix_weight");
    TORCH_CHECK(std::isfinite(alpha_) && alpha_ > 0, "method.mix_alpha must be > 0, got ", alpha_);
    TORCH_CHECK(std::isfinite(weight_) && weight_ >= 0, "method.mix_weight must be >= 0, got ", weight_);
  }
  StepOutput training_step(const Batch& b) override {
    check_pu_batch(b, "vpu");
    const auto [g_pos, g_unl] = batch_scores(b);
    auto variational = functional::vpu_variational_loss(g_pos, g_unl);
    // This rank's own unlabeled rows and its own positives: MixUp partners are drawn within a
    // rank's share, as MixMatch's are.
    const int64_t n_pos = b.views[0].size(0), n_unl = b.unlabeled_views[0].size(0);
    auto gen = make_generator(derive_seed(seed_, "vpu-mixup") + static_cast<uint64_t>(completed_steps()));
    const double lam = functional::sample_beta(alpha_, gen);
    const auto partner = torch::randint(n_pos, {n_unl}, gen, torch::kLong).to(b.views[0].device());
    const auto mixed = b.unlabeled_views[0] * lam + b.views[0].index_select(0, partner) * (1.0 - lam);
    const int64_t first = dist::rank() * n_unl;  // this rank's rows of the gathered batch
    const auto g_own = g_unl.slice(0, first, first + n_unl);
    auto reg = functional::vpu_mixup_regularizer(score(mixed), g_own, lam);
    auto loss = variational + weight_ * reg;
    torch::NoGradGuard no_grad;
    return {loss,
            {{"variational_loss", variational.item<double>()},
             {"mixup_loss", reg.item<double>()},
             {"mixup_lam", lam},
             {"phi_pos", torch::sigmoid(g_pos).mean().item<double>()},
             {"phi_unl", torch::sigmoid(g_unl).mean().item<double>()}}};
  }
  void calibrate(const PuCalibration& data) override {
    TORCH_CHECK(data.unlabeled_scores.defined() && data.unlabeled_scores.numel() > 0,
                "vpu: calibration needs the unlabeled training images' scores");
    log_max_phi_ = torch::log_sigmoid(data.unlabeled_scores.to(torch::kFloat64)).max().item<double>();
  }
  torch::Tensor decision(const torch::Tensor& scores) const override {
    return torch::log_sigmoid(scores.to(torch::kFloat64)) - log_max_phi_ - std::log(0.5);
  }
  nlohmann::json calibration() const override { return {{"log_max_phi", log_max_phi_}}; }

 private:
  double alpha_, weight_, log_max_phi_ = 0;
};

SELFSUP_REGISTER_METHOD(VpuImpl, "vpu", Kind::kPositiveUnlabeled,
                        "VPU: variational PU learning with MixUp, no class prior (Chen et al. 2020)");

}  // namespace
}  // namespace selfsup::methods
