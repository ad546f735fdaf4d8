// MoCo v2 (Chen et al. 2020): queries contrast with the momentum key of the other view and a queue
// of past keys. As solo-learn's mocov2plus, each view has its own queue, the loss is symmetric
// ((l(q1, k2, queue2) + l(q2, k1, queue1)) / 2) and keys are enqueued after the optimizer step.
#include "selfsup/losses/info_nce.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class MoCoV2Impl : public MethodImpl {
 public:
  static KeySet keys() {
    return head_keys("proj", {2048, 256, 2, false, false})
        .add(MomentumSchedule::keys(0.99))
        .add("method.queue_size", 65536, "keys in each view's queue")
        .add("method.temperature", 0.2, "InfoNCE temperature");
  }
  MoCoV2Impl(const MethodConfig& cfg, const DataSpec& spec) : momentum_(MomentumSchedule::from_config(cfg)) {
    online_ = register_module("online", Branch(cfg, spec.channels, spec.image_size));
    target_ = register_module("target", Branch(cfg, spec.channels, spec.image_size));
    init_momentum_target(*target_, *online_);
    const int64_t d = online_->projector->options.out_dim();
    const int64_t k = cfg.get<int64_t>("method.queue_size");
    TORCH_CHECK(k > 0, "method.queue_size must be positive, got ", k);
    options_.temperature(cfg.get<double>("method.temperature"));
    TORCH_CHECK(options_.temperature() > 0, "method.temperature must be positive, got ", options_.temperature());
    // Random unit vectors, as the reference implementation starts; they are flushed after K/B steps.
    queue_ = register_buffer("queue", torch::nn::functional::normalize(
                                          torch::randn({2, k, d}), torch::nn::functional::NormalizeFuncOptions().dim(2)));
    queue_ptr_ = register_buffer("queue_ptr", torch::zeros({1}, torch::kLong));
  }
  StepOutput training_step(const Batch& b) override {
    auto x = torch::cat({b.views[0], b.views[1]});
    auto q = online_(x).chunk(2);
    std::vector<torch::Tensor> keys;
    {
      torch::NoGradGuard no_grad;
      auto k = torch::nn::functional::normalize(target_(x), torch::nn::functional::NormalizeFuncOptions().dim(1));
      keys = k.chunk(2);
      // The queue receives the keys of every rank (identical queues everywhere).
      pending_keys_ = {dist::all_gather(keys[0]), dist::all_gather(keys[1])};
    }
    auto loss = 0.5 * (functional::info_nce(q[0], keys[1], queue_[1], options_) +
                       functional::info_nce(q[1], keys[0], queue_[0], options_));
    return {loss, {{"z_std", normalized_std(q[0])}, {"tau", tau_}}};
  }
  void after_optimizer_step(int64_t step, int64_t total) override {
    // Stateless in the step, so a resumed run uses the same coefficient as an uninterrupted one.
    tau_ = momentum_.at(step - 1, total);
    momentum_update(*target_, *online_, tau_);
    enqueue();
  }
  nets::Backbone encoder() const override { return online_->backbone; }
  nets::MLPHead projector() const override { return online_->projector; }

 private:
  void enqueue() {
    if (pending_keys_.empty()) return;
    torch::NoGradGuard no_grad;
    const int64_t k = queue_.size(1);
    const int64_t b = std::min(pending_keys_[0].size(0), k);
    const int64_t ptr = queue_ptr_.item<int64_t>();
    // Modular positions: a last batch smaller than the others (or one that does not divide K)
    // wraps around instead of overrunning the buffer.
    auto pos = (torch::arange(b, torch::kLong) + ptr).remainder(k).to(queue_.device());
    for (int v = 0; v < 2; ++v) queue_[v].index_copy_(0, pos, pending_keys_[v].slice(0, 0, b).to(queue_.dtype()));
    queue_ptr_.fill_((ptr + b) % k);
    pending_keys_.clear();
  }
  MomentumSchedule momentum_;
  double tau_ = momentum_.base;
  Branch online_{nullptr}, target_{nullptr};
  functional::InfoNCEOptions options_;
  torch::Tensor queue_, queue_ptr_;
  std::vector<torch::Tensor> pending_keys_;
};

SELFSUP_REGISTER_METHOD(MoCoV2Impl, "mocov2", Kind::kSelfSupervised,
                        "MoCo v2: InfoNCE against momentum keys and a queue of past keys (Chen et al. 2020)");

}  // namespace
}  // namespace selfsup::methods
