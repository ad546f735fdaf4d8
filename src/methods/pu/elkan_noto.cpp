// Elkan and Noto (2008): a classifier of labeled (s = 1) against unlabeled (s = 0) images,
// g(x) = sigmoid(score), then calibrated by c = the mean of g over held-out labeled positives
// (their estimator e1; here the validation split's labeled positives). With the labeled term
// weighed at odds r = w / (1 - w) against the unlabeled one, g / (1 - g) = r p_P(x) / p_U(x), and
// c = r / (r + pi) where only positives live; so pi = r (1 - c) / c, and on the unlabeled data
// (the distribution the test set follows)
//
//   p(y = 1 | x) = pi p_P(x) / p_U(x) = ((1 - c) / c) g / (1 - g),
//
// which is >= 1/2 where score >= log(c / (2 (1 - c))): the decision. (Elkan and Noto's g / c is
// the same posterior on the pool of labeled and unlabeled images together.) w is 1/2: balanced
// terms keep g away from 0 on the positives whatever the sizes of the two sets.
#include <cmath>

#include "selfsup/methods/pu.h"

namespace selfsup::methods {
namespace {

class ElkanNotoImpl : public PuMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys(/*mu=*/8).add("method.labeled_weight", 0.5,
                                         "w: weight of the labeled term (the unlabeled term has 1 - w)");
  }
  ElkanNotoImpl(const MethodConfig& cfg, const DataSpec& spec) : PuMethodImpl(cfg, spec) {
    w_ = cfg.get<double>("method.labeled_weight");
    TORCH_CHECK(std::isfinite(w_) && w_ > 0 && w_ < 1, "method.labeled_weight must be in (0, 1), got ", w_);
  }
  std::optional<double> labeled_odds() const override { return w_ / (1 - w_); }
  StepOutput training_step(const Batch& b) override {
    check_pu_batch(b, "elkan_noto");
    const auto [g_pos, g_unl] = batch_scores(b);
    namespace F = torch::nn::functional;
    const auto labeled = F::softplus(-g_pos).mean(), unlabeled = F::softplus(g_unl).mean();
    auto loss = w_ * labeled + (1 - w_) * unlabeled;
    torch::NoGradGuard no_grad;
    return {loss,
            {{"labeled_loss", labeled.item<double>()},
             {"unlabeled_loss", unlabeled.item<double>()},
             {"g_pos", torch::sigmoid(g_pos).mean().item<double>()},
             {"g_unl", torch::sigmoid(g_unl).mean().item<double>()}}};
  }
  void calibrate(const PuCalibration& data) override {
    TORCH_CHECK(data.val_positive_scores.defined() && data.val_positive_scores.numel() > 0,
                "elkan_noto: calibration needs held-out labeled positives (data.val_labeled_positives)");
    c_ = torch::sigmoid(data.val_positive_scores.to(torch::kFloat64)).mean().item<double>();
    TORCH_CHECK(c_ > 0 && c_ < 1, "elkan_noto: c = ", c_, " (the mean of g over the held-out labeled positives) must be "
                "in (0, 1)");
  }
  torch::Tensor decision(const torch::Tensor& scores) const override {
    return scores.to(torch::kFloat64) - std::log(c_ / (2 * (1 - c_)));
  }
  nlohmann::json calibration() const override { return {{"c", c_}}; }

 private:
  double w_, c_ = 0.5;
};

SELFSUP_REGISTER_METHOD(ElkanNotoImpl, "elkan_noto", Kind::kPositiveUnlabeled,
                        "Elkan-Noto: labeled-vs-unlabeled classifier calibrated by c (Elkan and Noto 2008)");

}  // namespace
}  // namespace selfsup::methods
