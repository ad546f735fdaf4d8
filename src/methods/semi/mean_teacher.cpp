// Mean Teacher (Tarvainen & Valpola 2017): the student's prediction on the strong view is pulled
// towards the teacher's on the weak view, the teacher being the EMA of the student (decay
// method.ema_decay, 0.999); weight 50, ramped over the first 40%. Unlike USB's version, the
// student is on one side and the teacher on the other, so the student trains: gradients reach the
// student only, and the teacher moves by the EMA rule alone.
#include "selfsup/losses/consistency.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class MeanTeacherImpl : public SemiMethodImpl {
 public:
  static KeySet keys() { return classifier_keys().add(unlabeled_keys({50.0, 0.4})); }
  MeanTeacherImpl(const MethodConfig& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec) {}
  std::vector<std::string> unlabeled_views() const override { return {"weak", "strong"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "mean_teacher");
    auto l = forward_together({b.views[0], b.unlabeled_views[1]});
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    torch::Tensor target;
    {
      torch::NoGradGuard no_grad;
      target = torch::softmax(ema->forward(b.unlabeled_views[0]).to(torch::kFloat32), 1);
    }
    return combine(sup, functional::softmax_mse_loss(l[1], target));
  }
};

SELFSUP_REGISTER_METHOD(MeanTeacherImpl, "mean_teacher", Kind::kSemiSupervised,
                        "Mean Teacher: consistency with the EMA teacher (Tarvainen & Valpola 2017)");

}  // namespace
}  // namespace selfsup::methods
