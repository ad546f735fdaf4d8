#include <cmath>
#include <limits>

#include "selfsup/dist/dist.h"
#include "selfsup/methods/pu.h"

namespace selfsup::methods {

KeySet PuMethodImpl::classifier_keys(int64_t mu) {
  KeySet k;
  k.add("model.classifier_hidden_dim", int64_t{0},
        "width of a Linear-BN-ReLU layer between backbone and head (0: a linear head)")
      .add("method.mu", mu, "unlabeled images per labeled positive in a batch");
  return k;
}

PuMethodImpl::PuMethodImpl(const MethodConfig& cfg, const DataSpec& spec) : seed_(spec.seed) {
  classifier = register_module("classifier", Classifier(cfg, spec, /*outputs=*/1));
  mu_ = cfg.get<int64_t>("method.mu");
  TORCH_CHECK(mu_ > 0, "method.mu (unlabeled images per labeled positive) must be positive, got ", mu_);
  // "Not set" is stored as a value outside each range (a prior is in (0, 1), an estimate is not
  // negative), not as NaN: a checkpoint holds finite values only.
  prior_ = register_buffer("prior", torch::zeros({1}, torch::kFloat64));
  estimates_ = register_buffer("prior_estimates", torch::full({3}, -1.0, torch::kFloat64));
  progress_ = register_buffer("progress", torch::zeros({1}, torch::kLong));
}

torch::Tensor PuMethodImpl::score(const torch::Tensor& x) {
  return classifier->forward(x).to(torch::kFloat32).squeeze(1);
}

void PuMethodImpl::set_prior(double prior) {
  TORCH_CHECK(std::isfinite(prior) && prior > 0 && prior < 1, "the class prior must be in (0, 1), got ", prior);
  torch::NoGradGuard no_grad;
  prior_.fill_(prior);
}

double PuMethodImpl::prior() const {
  const double p = prior_.item<double>();
  return p > 0 ? p : std::numeric_limits<double>::quiet_NaN();
}

torch::Tensor PuMethodImpl::recorded_estimates() const {
  return torch::where(estimates_ >= 0, estimates_, std::numeric_limits<double>::quiet_NaN());
}

void PuMethodImpl::record_estimates(const torch::Tensor& estimates) {
  TORCH_CHECK(estimates.numel() == 3, "record_estimates: expected 3 values (c, elkan_noto, bbe), got ",
              estimates.numel());
  torch::NoGradGuard no_grad;
  const auto e = estimates.reshape({3}).to(estimates_.options());
  estimates_.copy_(torch::where(torch::isfinite(e) & (e >= 0), e, -1.0));
}

double PuMethodImpl::required_prior(const char* method) const {
  const double p = prior();
  TORCH_CHECK(std::isfinite(p), method, " needs the class prior of the unlabeled data: set pu.prior to a number in "
              "(0, 1) or to estimate");
  return p;
}

void PuMethodImpl::check_pu_batch(const Batch& b, const char* method) {
  TORCH_CHECK(!b.views.empty() && !b.unlabeled_views.empty(), method,
              " needs labeled positives and unlabeled images in each batch (run it with `selfsup pu`)");
}

std::pair<torch::Tensor, torch::Tensor> PuMethodImpl::batch_scores(const Batch& b) {
  const int64_t n = b.views[0].size(0);
  auto g = score(torch::cat({b.views[0], b.unlabeled_views[0]}));
  return {dist::all_gather(g.slice(0, 0, n)), dist::all_gather(g.slice(0, n))};
}

void PuMethodImpl::after_optimizer_step(int64_t step, int64_t total_steps) { progress_[0] = step; }

PuMethod make_pu_method(const Config& cfg, const DataSpec& spec) {
  auto m = std::dynamic_pointer_cast<PuMethodImpl>(make_method(cfg, spec, {Kind::kPositiveUnlabeled}));
  TORCH_CHECK(m, "method '", cfg.get<std::string>("method.name", ""), "' is not a positive-unlabeled classifier");
  return m;
}

}  // namespace selfsup::methods
