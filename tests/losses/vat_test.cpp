#include "selfsup/losses/vat.h"

#include <gtest/gtest.h>

#include <tuple>

#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;
namespace nn = torch::nn;

namespace {

T::Row log_softmax(const T::Row& l) {
  double z = 0;
  for (double v : l) z += std::exp(v);
  T::Row out(l);
  for (double& v : out) v -= std::log(z);
  return out;
}

// An MLP for [N, 10] vectors and a small CNN for [N, 3, 6, 6] images, float64, seeded.
nn::Sequential mlp() {
  torch::manual_seed(1);
  nn::Sequential net(nn::Linear(10, 16), nn::Tanh(), nn::Linear(16, 5));
  net->to(torch::kFloat64);
  return net;
}

nn::Sequential cnn() {
  torch::manual_seed(2);
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(3, 4, 3)), nn::Tanh(), nn::Flatten(),
                     nn::Linear(4 * 4 * 4, 5));
  net->to(torch::kFloat64);
  return net;
}

F::LogitsFn as_fn(nn::Sequential net) {
  return [net](const torch::Tensor& x) mutable { return net->forward(x); };
}

}  // namespace

TEST(VAT, KLAndEntropyMatchLoopReference) {
  const auto a = T::randn64({4, 3}, 1), b = T::randn64({4, 3}, 2);
  const T::Rows ra = T::to_rows(a), rb = T::to_rows(b);
  double kl = 0, h = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    const T::Row lp = log_softmax(ra[i]), lq = log_softmax(rb[i]);
    for (size_t c = 0; c < lp.size(); ++c) {
      kl += std::exp(lp[c]) * (lp[c] - lq[c]);
      h -= std::exp(lp[c]) * lp[c];
    }
  }
  EXPECT_NEAR(T::value(F::kl_div_from_logits(a, b)), kl / 4, 1e-12);
  EXPECT_NEAR(T::value(F::entropy_loss(a)), h / 4, 1e-12);
  EXPECT_NEAR(T::value(F::entropy_loss(torch::zeros({2, 5}, torch::kFloat64))), std::log(5.0),
              1e-12);
}

TEST(VAT, PerturbationHasNormEpsAndBeatsRandomDirectionsOn2DAnd4DInput) {
  for (const auto& [name, net, x] :
       {std::make_tuple("mlp", mlp(), T::randn64({8, 10}, 3)),
        std::make_tuple("cnn", cnn(), T::randn64({6, 3, 6, 6}, 4))}) {
    const F::LogitsFn model = as_fn(net);
    const auto clean = model(x).detach();
    auto gen = at::detail::createCPUGenerator(5);
    const double eps = 1.5;
    const auto r = F::vat_perturbation(model, x, clean, F::VATOptions().eps(eps), gen);
    ASSERT_EQ(r.sizes(), x.sizes()) << name;
    const auto norms = r.flatten(1).norm(2, 1);
    for (int64_t i = 0; i < x.size(0); ++i) EXPECT_NEAR(norms[i].item<double>(), eps, 1e-10);
    const double adversarial = T::value(F::kl_div_from_logits(clean, model(x + r)));
    for (uint64_t seed = 10; seed < 20; ++seed) {
      const auto random = F::normalize_per_sample(T::randn64(x.sizes(), seed)) * eps;
      EXPECT_GT(adversarial, T::value(F::kl_div_from_logits(clean, model(x + random))))
          << name << ", random direction " << seed;
    }
    for (const auto& p : net->parameters()) {
      EXPECT_FALSE(p.grad().defined()) << name << ": the power iteration left a gradient";
    }
  }
}

TEST(VAT, PowerIterationConvergesToTheTopEigenvectorOfTheKLHessian) {
  // Linear model z = W x: the KL's Hessian in r is W^T (diag(p) - p p^T) W, built here by loops;
  // its top eigenvector by plain power iteration is the naive reference.
  const auto w = T::randn64({4, 6}, 6);
  const F::LogitsFn model = [w](const torch::Tensor& x) { return x.mm(w.t()); };
  const auto x = T::randn64({3, 6}, 7);
  auto gen = at::detail::createCPUGenerator(8);
  const auto d = F::vat_perturbation(model, x, model(x), F::VATOptions().eps(1).iterations(200), gen);
  const T::Rows ws = T::to_rows(w), ds = T::to_rows(d), ps = T::to_rows(torch::softmax(model(x), 1));
  for (size_t i = 0; i < ps.size(); ++i) {
    T::Rows h(6, T::Row(6, 0.0));
    for (size_t a = 0; a < 6; ++a)
      for (size_t b = 0; b < 6; ++b)
        for (size_t j = 0; j < 4; ++j)
          for (size_t k = 0; k < 4; ++k)
            h[a][b] += ws[j][a] * ((j == k ? ps[i][j] : 0.0) - ps[i][j] * ps[i][k]) * ws[k][b];
    T::Row v(6, 1.0);
    for (int it = 0; it < 5000; ++it) {
      T::Row hv(6, 0.0);
      for (size_t a = 0; a < 6; ++a) hv[a] = T::dot(h[a], v);
      const double n = std::sqrt(T::dot(hv, hv));
      for (size_t a = 0; a < 6; ++a) v[a] = hv[a] / n;
    }
    EXPECT_GT(std::abs(T::cosine(ds[i], v)), 0.9999) << "sample " << i;
  }
}

TEST(VAT, LossTrainsTheModelThroughThePerturbedPassOnly) {
  auto net = mlp();
  const F::LogitsFn model = as_fn(net);
  const auto x = T::randn64({5, 10}, 9);
  const auto clean = model(x);
  auto gen1 = at::detail::createCPUGenerator(10), gen2 = at::detail::createCPUGenerator(10);
  torch::Tensor r;
  {
    torch::NoGradGuard no_grad;  // callers may hold one: the iteration enables autograd itself
    r = F::vat_perturbation(model, x, clean, {}, gen1);
  }
  const auto loss = F::vat_loss(model, x, clean, {}, gen2);
  EXPECT_NEAR(T::value(loss), T::value(F::kl_div_from_logits(clean, model(x + r))), 1e-12)
      << "the same seed must give the same perturbation";
  // The clean prediction is a target: no gradient path may lead back to it.
  const auto to_clean = torch::autograd::grad({loss}, {clean}, {}, /*retain_graph=*/true,
                                              /*create_graph=*/false, /*allow_unused=*/true)[0];
  EXPECT_FALSE(to_clean.defined());
  loss.backward();
  for (const auto& p : net->parameters()) ASSERT_TRUE(p.grad().defined());
  double total = 0;
  for (const auto& p : net->parameters()) total += p.grad().abs().sum().item<double>();
  EXPECT_GT(total, 0.0);
}

TEST(VAT, RejectsBadArguments) {
  const F::LogitsFn model = [](const torch::Tensor& x) { return x; };
  const auto x = T::randn64({4, 3}, 11);
  auto gen = at::detail::createCPUGenerator(12);
  T::expect_error_mentions([&] { F::vat_perturbation(model, x, x, F::VATOptions().eps(0), gen); },
                           {"vat", "eps", "0"});
  T::expect_error_mentions(
      [&] { F::vat_perturbation(model, x, x, F::VATOptions().iterations(0), gen); },
      {"vat", "iterations", "0"});
  T::expect_error_mentions([&] { F::vat_perturbation(model, x.view({-1}), x, {}, gen); },
                           {"vat_perturbation", "x", "[12]"});
  T::expect_error_mentions([&] { F::vat_perturbation(model, x, x.narrow(0, 0, 3), {}, gen); },
                           {"vat_perturbation", "clean_logits", "[3, 3]"});
  T::expect_error_mentions([&] { F::kl_div_from_logits(x, x.narrow(1, 0, 2)); },
                           {"kl_div_from_logits", "[4, 3]", "[4, 2]"});
}
