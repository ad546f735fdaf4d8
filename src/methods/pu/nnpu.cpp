// uPU (du Plessis et al. 2015) and nnPU (Kiryo et al. 2017): the classifier minimises the PU
// risk of the batch (losses/pu.h) at the class prior of the unlabeled data; nnPU keeps the
// negative risk from going below -beta by stepping along -gamma times its gradient on the batches
// where it would (the paper's Algorithm 1; beta 0, gamma 1, sigmoid loss). Both log the positive
// and the negative risk of every logged step: uPU's negative risk sinking below zero is its
// overfitting, which nnPU stops.
#include <cmath>

#include "selfsup/losses/pu.h"
#include "selfsup/methods/pu.h"

namespace selfsup::methods {
namespace {

KeySet risk_keys(bool non_negative) {
  KeySet k = PuMethodImpl::classifier_keys(/*mu=*/8);
  k.add("method.loss", std::string("sigmoid"), "the margin loss l: sigmoid (the papers') or logistic");
  if (non_negative) {
    k.add("method.beta", 0.0, "the negative risk's lower bound is -beta")
        .add("method.gamma", 1.0, "step size of the ascent on the negative risk when it falls below -beta");
  }
  return k;
}

class PuRiskMethodImpl : public PuMethodImpl {
 public:
  PuRiskMethodImpl(const MethodConfig& cfg, const DataSpec& spec, bool non_negative)
      : PuMethodImpl(cfg, spec), non_negative_(non_negative), name_(non_negative ? "nnpu" : "upu") {
    options_.loss(functional::pu_loss_from_name(cfg.get<std::string>("method.loss"), "method.loss"));
    if (non_negative) {
      options_.beta(cfg.get<double>("method.beta")).gamma(cfg.get<double>("method.gamma"));
      TORCH_CHECK(std::isfinite(options_.beta()) && options_.beta() >= 0, "method.beta must be >= 0, got ",
                  options_.beta());
      TORCH_CHECK(std::isfinite(options_.gamma()) && options_.gamma() > 0, "method.gamma must be > 0, got ",
                  options_.gamma());
    }
  }
  bool needs_prior() const override { return true; }
  StepOutput training_step(const Batch& b) override {
    check_pu_batch(b, name_);
    const double prior = required_prior(name_);
    const auto [g_pos, g_unl] = batch_scores(b);
    const auto r = non_negative_ ? functional::nnpu_risk(g_pos, g_unl, prior, options_)
                                 : functional::upu_risk(g_pos, g_unl, prior, options_.loss());
    std::map<std::string, double> m{{"positive_risk", r.positive_risk.item<double>()},
                                    {"negative_risk", r.negative_risk.item<double>()},
                                    {"risk", r.risk.item<double>()}};
    if (non_negative_) m["ascent"] = r.ascent ? 1.0 : 0.0;
    return {r.surrogate, std::move(m)};
  }

 private:
  bool non_negative_;
  const char* name_;
  functional::NnpuOptions options_;
};

class UpuImpl : public PuRiskMethodImpl {
 public:
  static KeySet keys() { return risk_keys(false); }
  UpuImpl(const MethodConfig& cfg, const DataSpec& spec) : PuRiskMethodImpl(cfg, spec, false) {}
};

class NnpuImpl : public PuRiskMethodImpl {
 public:
  static KeySet keys() { return risk_keys(true); }
  NnpuImpl(const MethodConfig& cfg, const DataSpec& spec) : PuRiskMethodImpl(cfg, spec, true) {}
};

SELFSUP_REGISTER_METHOD(UpuImpl, "upu", Kind::kPositiveUnlabeled,
                        "uPU: the unbiased PU risk at the class prior (du Plessis et al. 2015)");
SELFSUP_REGISTER_METHOD(NnpuImpl, "nnpu", Kind::kPositiveUnlabeled,
                        "nnPU: the PU risk with its negative part kept >= -beta (Kiryo et al. 2017)");

}  // namespace
}  // namespace selfsup::methods
