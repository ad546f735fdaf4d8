// SimMatch (Zheng et al. 2022): FixMatch whose pseudo-labels also use how similar each unlabeled
// image is to the labeled images in a projected embedding space, plus an instance-similarity loss
// of the strong view toward those labeled images (losses/simmatch.h). USB's recipe for small
// images: soft pseudo-labels behind threshold 0.95, lambda_u 1, lambda_in 1, T 0.1, alpha 0.9,
// projector d -> d -> 128 without BN, a bank of the online model's labeled embeddings with
// momentum 0.7, and distribution alignment on. The bank is a buffer: it is saved with the
// checkpoint, and a resumed run continues it.
#include "selfsup/dist/dist.h"
#include "selfsup/losses/simmatch.h"
#include "selfsup/losses/uda.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class SimMatchImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add(unlabeled_keys({1.0, 0.0}))
        .add(masked_mean_keys())
        .add("method.threshold", 0.95, "confidence a calibrated pseudo-label needs to be trained on")
        .add("method.temperature", 0.1, "temperature of the similarities to the labeled embeddings")
        .add("method.smoothing_alpha", 0.9, "weight of the model's prediction against the similarity's")
        .add("method.instance_weight", 1.0, "weight of the instance-similarity loss")
        .add("method.bank_momentum", 0.7, "momentum of the labeled embeddings' bank")
        .add(head_keys("proj", HeadDefaults{0, 128, 2, false, false}))
        .add(DistAlign::keys(true))
        .add(ClassContrast::keys());
  }
  SimMatchImpl(const MethodConfig& cfg, const DataSpec& spec)
      : SemiMethodImpl(cfg, spec),
        projector_(register_module("projector", make_head(cfg, "proj", student->backbone->feature_dim()))),
        align_(*this, cfg, spec),
        contrast_(*this, cfg, student->backbone->feature_dim()) {
    TORCH_CHECK(spec.num_labeled > 0, "simmatch needs the size of the labeled set (run it with `selfsup semi`)");
    options_.temperature(cfg.get<double>("method.temperature"))
        .smoothing_alpha(cfg.get<double>("method.smoothing_alpha"));
    threshold_ = cfg.get<double>("method.threshold");
    instance_weight_ = cfg.get<double>("method.instance_weight");
    masked_mean_ = functional::parse_masked_mean(cfg.get<std::string>("method.masked_mean"), "method.masked_mean");
    TORCH_CHECK(std::isfinite(options_.temperature()) && options_.temperature() > 0,
                "method.temperature must be > 0, got ", options_.temperature());
    TORCH_CHECK(options_.smoothing_alpha() >= 0 && options_.smoothing_alpha() <= 1,
                "method.smoothing_alpha must be in [0, 1], got ", options_.smoothing_alpha());
    TORCH_CHECK(threshold_ >= 0 && threshold_ <= 1, "method.threshold must be in [0, 1], got ", threshold_);
    TORCH_CHECK(std::isfinite(instance_weight_) && instance_weight_ >= 0, "method.instance_weight must be >= 0, got ",
                instance_weight_);
    const double momentum = cfg.get<double>("method.bank_momentum");
    TORCH_CHECK(momentum >= 0 && momentum < 1, "method.bank_momentum must be in [0, 1), got ", momentum);
    bank_ = register_module("bank", losses::LabeledBank(losses::LabeledBankOptions(
                                                             spec.num_labeled, projector_->options.out_dim())
                                                             .momentum(momentum)));
    num_labeled_ = spec.num_labeled;
  }
  std::optional<double> confidence_threshold() const override { return threshold_; }
  std::vector<std::string> unlabeled_views() const override { return {"weak", "strong"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "simmatch");
    auto f = forward_together_with_features({b.views[0], b.unlabeled_views[0], b.unlabeled_views[1]});
    const auto& l = f.logits;
    // One projector pass over all three inputs, as the backbone's.
    std::vector<int64_t> sizes;
    for (const auto& x : f.features) sizes.push_back(x.size(0));
    const auto z = projector_->forward(torch::cat(f.features)).to(torch::kFloat32).split_with_sizes(sizes);
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    auto targets = torch::softmax(align_.targets(l[1]), 1);
    auto instance = torch::zeros({}, l[2].options());
    // Until every labeled image has a slot, the bank holds placeholders: FixMatch with soft
    // targets (USB gates the same way on its first epoch).
    if (bank_->full()) {
      // A copy: the loss's backward needs the bank as it was, and update() below writes in place.
      const auto bank = bank_->embeddings.clone();
      auto t = functional::simmatch_targets(targets, z[1], bank, bank_->labels, options_);
      targets = t.class_probs;
      instance = functional::instance_similarity_loss(z[2], bank, t.instance_probs, options_.temperature());
    }
    const auto [confidence, labels] = targets.max(1);
    const auto mask = (confidence >= threshold_).to(targets.scalar_type());
    auto unsup = functional::masked_soft_cross_entropy(l[2], targets, mask, masked_mean_);
    std::map<std::string, double> m;
    log_pseudo_labels(m, labels, mask, b);
    m["instance_loss"] = instance.item<double>();
    auto out = combine(sup, unsup, std::move(m));
    out.loss = out.loss + instance_weight_ * instance;
    // The contrast groups images by the calibrated pseudo-labels; it takes logits, and the log of
    // a distribution is logits whose softmax gives it back.
    contrast_.add(out, f.features[1], f.features[2], targets.detach().clamp_min(1e-12).log());
    // The bank is written after the targets are read, with this step's labeled embeddings (USB's
    // small-image path: the online model's, smoothed by the bank's momentum). A labeled set
    // smaller than a batch is repeated by the loader, so its indices wrap around num_labeled.
    // Every rank writes every rank's labeled embeddings, so the banks stay the same everywhere.
    bank_->update(dist::all_gather(z[0].detach()), dist::all_gather(b.labels),
                  dist::all_gather(b.indices.remainder(num_labeled_)));
    return out;
  }

 private:
  nets::MLPHead projector_;
  DistAlign align_;
  ClassContrast contrast_;
  functional::SimMatchOptions options_;
  functional::MaskedMean masked_mean_;
  double threshold_ = 0, instance_weight_ = 0;
  int64_t num_labeled_ = 0;
  losses::LabeledBank bank_{nullptr};
};

SELFSUP_REGISTER_METHOD(SimMatchImpl, "simmatch", Kind::kSemiSupervised,
                        "SimMatch: pseudo-labels calibrated by similarity to the labeled embeddings, plus an "
                        "instance-similarity loss (Zheng et al. 2022)");

}  // namespace
}  // namespace selfsup::methods
