// MoCo v3 (Chen, Xie & He 2021): the predicted query of one view contrasts with the momentum keys
// of the other view in the batch; no queue.
#include "selfsup/losses/info_nce.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class MoCoV3Impl : public MethodImpl {
 public:
  static KeySet keys() {
    return OnlinePredictorTarget::keys(/*proj=*/{4096, 256, 3, true, true}, /*pred=*/{4096, 0, 2, true, true})
        .add("method.temperature", 0.2, "InfoNCE temperature");
  }
  MoCoV3Impl(const MethodConfig& cfg, const DataSpec& spec) : branches_(*this, cfg, spec) {
    options_.temperature(cfg.get<double>("method.temperature"));
    TORCH_CHECK(options_.temperature() > 0, "method.temperature must be positive, got ", options_.temperature());
  }
  StepOutput training_step(const Batch& b) override {
    auto v = branches_.forward(b);
    // In-batch keys of every rank, as with one process holding the global batch.
    auto p0 = dist::all_gather(v.predicted[0]), p1 = dist::all_gather(v.predicted[1]);
    auto t0 = dist::all_gather(v.target[0]), t1 = dist::all_gather(v.target[1]);
    auto loss = functional::info_nce_in_batch(p0, t1, options_) + functional::info_nce_in_batch(p1, t0, options_);
    return {loss, {{"z_std", normalized_std(v.z.chunk(2)[0])}, {"tau", branches_.tau()}}};
  }
  void after_optimizer_step(int64_t step, int64_t total) override { branches_.update(step, total); }
  nets::Backbone encoder() const override { return branches_.encoder(); }
  nets::MLPHead projector() const override { return branches_.projector(); }

 private:
  OnlinePredictorTarget branches_;
  functional::InfoNCEInBatchOptions options_;
};

SELFSUP_REGISTER_METHOD(MoCoV3Impl, "mocov3", Kind::kSelfSupervised,
                        "MoCo v3: predicted queries against in-batch momentum keys (Chen et al. 2021)");

}  // namespace
}  // namespace selfsup::methods
