// nets::BatchNorm replaced torch::nn::BatchNorm1d/2d in every backbone and head (for its sync
// mode): in one process it must be the same layer, down to parameter names and running stats.
#include <gtest/gtest.h>

#include "selfsup/nets/batchnorm.h"

using namespace selfsup;

namespace {

template <typename TorchBN>
void expect_same_as_torch(TorchBN ref, nets::BatchNorm ours, const std::vector<int64_t>& shape) {
  torch::manual_seed(0);
  {
    torch::NoGradGuard no_grad;
    if (ref->weight.defined()) {
      ref->weight.uniform_(0.5, 1.5);
      ref->bias.uniform_(-0.5, 0.5);
      ours->weight.copy_(ref->weight);
      ours->bias.copy_(ref->bias);
    }
  }
  for (int step = 0; step < 3; ++step) {
    auto x = torch::randn(shape) * 3 + 1;
    auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
    auto ya = ref->forward(xa), yb = ours->forward(xb);
    ASSERT_TRUE(torch::allclose(ya, yb, 1e-5, 1e-6)) << "training forward, step " << step;
    auto g = torch::randn_like(ya);
    ya.backward(g);
    yb.backward(g);
    EXPECT_TRUE(torch::allclose(xa.grad(), xb.grad(), 1e-4, 1e-6));
    if (ref->weight.defined()) {
      EXPECT_TRUE(torch::allclose(ref->weight.grad(), ours->weight.grad(), 1e-4, 1e-5));
    }
  }
  EXPECT_TRUE(torch::allclose(ref->running_mean, ours->running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(ref->running_var, ours->running_var, 1e-5, 1e-6));
  EXPECT_EQ(ref->num_batches_tracked.template item<int64_t>(), ours->num_batches_tracked.template item<int64_t>());
  ref->eval();
  ours->eval();
  auto x = torch::randn(shape);
  EXPECT_TRUE(torch::allclose(ref->forward(x), ours->forward(x), 1e-5, 1e-6)) << "eval forward";
  // Same state-dict names, so checkpoints written before the switch still load.
  std::vector<std::string> a, b;
  for (const auto& kv : ref->named_parameters()) a.push_back(kv.key());
  for (const auto& kv : ref->named_buffers()) a.push_back(kv.key());
  for (const auto& kv : ours->named_parameters()) b.push_back(kv.key());
  for (const auto& kv : ours->named_buffers()) b.push_back(kv.key());
  EXPECT_EQ(a, b);
}

}  // namespace

TEST(BatchNorm, MatchesTorchBatchNorm2d) {
  expect_same_as_torch(torch::nn::BatchNorm2d(6), nets::BatchNorm(6), {8, 6, 5, 5});
}

TEST(BatchNorm, MatchesTorchBatchNorm1d) {
  expect_same_as_torch(torch::nn::BatchNorm1d(7), nets::BatchNorm(7), {16, 7});
}

TEST(BatchNorm, MatchesTorchBatchNorm1dWithoutAffine) {
  expect_same_as_torch(torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(4).affine(false)),
                       nets::BatchNorm(nets::BatchNormOptions(4).affine(false)), {10, 4});
}

TEST(BatchNorm, SyncModeInOneProcessIsPlainBatchNorm) {
  nets::BatchNorm a(3), b(nets::BatchNormOptions(3).sync(true));
  auto x = torch::randn({6, 3, 4, 4});
  EXPECT_TRUE(torch::allclose(a->forward(x), b->forward(x)));
}

TEST(BatchNorm, SetSyncReachesEveryLayer) {
  torch::nn::Sequential seq(nets::BatchNorm(2), torch::nn::ReLU(), nets::BatchNorm(2));
  EXPECT_EQ(nets::set_sync_batchnorm(*seq, true), 2);
  for (const auto& m : seq->modules(false)) {
    if (auto* bn = m->as<nets::BatchNormImpl>()) {
      EXPECT_TRUE(bn->options.sync());
    }
  }
}

TEST(BatchNorm, RejectsAWrongChannelCount) {
  nets::BatchNorm bn(3);
  try {
    bn->forward(torch::randn({2, 4}));
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("BatchNorm(3): expected input [N, 3, ...], got [2, 4]"), std::string::npos) << e.msg();
  }
}
