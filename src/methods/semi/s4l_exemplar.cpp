// S4L-Exemplar (Zhai et al. 2019): the classifier's cross-entropy on the labeled images plus the
// batch-hard triplet loss (losses/triplet.h) on the backbone's features of `method.copies` (8, as
// in the paper) augmented copies of each unlabeled image, the copies of one image a group. The
// paper applies the term to the labeled images too; here they come one view each from the
// labeled stream, and the unlabeled stream (mu per labeled image) carries the term. Weight 1.
#include "selfsup/losses/triplet.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class S4LExemplarImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add(unlabeled_keys({1.0, 0.0}))
        .set_default("method.mu", int64_t{1})
        .add("method.copies", int64_t{8}, "augmented copies of each unlabeled image (>= 2)");
  }
  S4LExemplarImpl(const MethodConfig& cfg, const DataSpec& spec)
      : SemiMethodImpl(cfg, spec), copies_(cfg.get<int64_t>("method.copies")) {
    TORCH_CHECK(copies_ >= 2, "method.copies must be >= 2 (a group needs two copies), got ", copies_);
  }
  std::vector<std::string> unlabeled_views() const override {
    return std::vector<std::string>(static_cast<size_t>(copies_), "strong");
  }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, static_cast<size_t>(copies_), "s4l_exemplar");
    const int64_t n = b.views[0].size(0), u = b.unlabeled_views[0].size(0);
    std::vector<torch::Tensor> all{b.views[0]};
    all.insert(all.end(), b.unlabeled_views.begin(), b.unlabeled_views.end());
    const auto features = student->backbone->forward(torch::cat(all));
    const auto logits = student->classify(features.slice(0, 0, n)).to(torch::kFloat32);
    // Row k u + i is copy k of unlabeled image i: its group is i.
    const auto groups = torch::arange(u, torch::TensorOptions().dtype(torch::kLong).device(features.device()))
                            .repeat({copies_});
    return combine(torch::nn::functional::cross_entropy(logits, b.labels),
                   functional::batch_hard_triplet_loss(features.slice(0, n), groups));
  }

 private:
  int64_t copies_;
};

SELFSUP_REGISTER_METHOD(S4LExemplarImpl, "s4l_exemplar", Kind::kSemiSupervised,
                        "S4L-Exemplar: augmented copies of each unlabeled image pulled together by a batch-hard "
                        "triplet loss (Zhai et al. 2019)");

}  // namespace
}  // namespace selfsup::methods
