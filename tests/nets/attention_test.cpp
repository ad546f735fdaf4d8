// functional::self_attention, the ViT's attention: the CPU kernel against torch's ops, a loop
// written from the formula, analytic cases, permutation equivariance and float64 finite
// differences.
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/nets/kernels.h"
#include "selfsup/nets/vit.h"
#include "support/compare.h"

using namespace selfsup;
using selfsup::testing::max_diff;

namespace {

// softmax(q k^T / sqrt(hd)) v by scalar loops over one image, one head, one row at a time.
torch::Tensor attention_by_loops(const torch::Tensor& qkv, int64_t heads) {
  const auto x = qkv.to(torch::kFloat64).contiguous();
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2) / 3, hd = d / heads;
  auto out = torch::zeros({b, n, d}, torch::kFloat64);
  auto a = x.accessor<double, 3>();
  auto o = out.accessor<double, 3>();
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> s(n);
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          for (int64_t c = 0; c < hd; ++c) s[j] += a[bi][i][h * hd + c] * a[bi][j][d + h * hd + c];
          s[j] /= std::sqrt(static_cast<double>(hd));
          m = std::max(m, s[j]);
        }
        for (auto& v : s) sum += (v = std::exp(v - m));
        for (int64_t j = 0; j < n; ++j) {
          for (int64_t c = 0; c < hd; ++c) o[bi][i][h * hd + c] += s[j] / sum * a[bi][j][2 * d + h * hd + c];
        }
      }
    }
  }
  return out;
}

struct AttentionPass {
  torch::Tensor out, grad;
};

// The output and the gradient of sum(out * w) with respect to qkv.
AttentionPass attention_pass(const torch::Tensor& qkv, const torch::Tensor& w, int64_t heads, bool reference) {
  auto x = qkv.detach().clone().requires_grad_();
  auto out = reference ? functional::self_attention_reference(x, heads) : functional::self_attention(x, heads);
  (out * w).sum().backward();
  return {out.detach(), x.grad()};
}

TEST(SelfAttention, KernelMatchesTorchOpsInValuesAndGradients) {
  torch::manual_seed(3);
  struct Shape {
    int64_t b, n, heads, hd;
  };
  for (const auto& [b, n, heads, hd] : {Shape{3, 7, 2, 8}, Shape{2, 13, 4, 32}, Shape{1, 1, 1, 5}}) {
    auto qkv = torch::randn({b, n, 3 * heads * hd}) * 2;
    auto w = torch::randn({b, n, heads * hd});
    const auto kernel = attention_pass(qkv, w, heads, false), ref = attention_pass(qkv, w, heads, true);
    const auto shape = qkv.sizes();
    EXPECT_LT(max_diff(kernel.out, ref.out), 1e-5) << shape;
    EXPECT_LT(max_diff(kernel.grad, ref.grad), 1e-5) << shape;
  }
}

TEST(SelfAttention, EqualsTheFormulaWrittenAsLoops) {
  torch::manual_seed(4);
  auto qkv = torch::randn({2, 6, 3 * 3 * 4}, torch::kFloat64);
  EXPECT_LT(max_diff(functional::self_attention(qkv, 3), attention_by_loops(qkv, 3)), 1e-12);
  EXPECT_LT(max_diff(functional::self_attention(qkv.to(torch::kFloat32), 3), attention_by_loops(qkv, 3)), 1e-5);
}

TEST(SelfAttention, EqualKeysAttendUniformlyAndOneTokenReturnsItsValue) {
  torch::manual_seed(5);
  const int64_t b = 2, n = 5, heads = 2, hd = 4, d = heads * hd;
  auto qkv = torch::randn({b, n, 3 * d});
  qkv.narrow(2, d, d).copy_(torch::randn({b, 1, d}).expand({b, n, d}));  // every key the same
  const auto v = qkv.narrow(2, 2 * d, d);
  EXPECT_LT(max_diff(functional::self_attention(qkv, heads), v.mean(1, true).expand({b, n, d})), 1e-6);
  auto one = torch::randn({3, 1, 3 * d});
  EXPECT_LT(max_diff(functional::self_attention(one, heads), one.narrow(2, 2 * d, d)), 1e-7);
}

TEST(SelfAttention, PermutingTokensPermutesTheOutput) {
  torch::manual_seed(6);
  auto qkv = torch::randn({2, 9, 3 * 2 * 6});
  const auto perm = torch::randperm(9);
  const auto out = functional::self_attention(qkv, 2);
  EXPECT_LT(max_diff(functional::self_attention(qkv.index_select(1, perm), 2), out.index_select(1, perm)), 1e-6);
}

TEST(SelfAttention, GradientMatchesFloat64FiniteDifferences) {
  torch::manual_seed(7);
  auto qkv = torch::randn({2, 4, 3 * 2 * 3}, torch::kFloat64);
  auto w = torch::randn({2, 4, 6}, torch::kFloat64);
  const auto grad = attention_pass(qkv, w, 2, false).grad;
  const double eps = 1e-6;
  auto flat = qkv.view(-1);
  for (int64_t e = 0; e < flat.numel(); ++e) {
    const double keep = flat[e].item<double>();
    flat[e] = keep + eps;
    const double up = (functional::self_attention(qkv, 2) * w).sum().item<double>();
    flat[e] = keep - eps;
    const double down = (functional::self_attention(qkv, 2) * w).sum().item<double>();
    flat[e] = keep;
    EXPECT_NEAR(grad.view(-1)[e].item<double>(), (up - down) / (2 * eps), 1e-7) << "element " << e;
  }
}

TEST(SelfAttention, NanSpreadsAsInTorchSoftmax) {
  auto qkv = torch::randn({1, 4, 3 * 1 * 2});
  qkv[0][1][0] = NAN;  // token 1's query: its row of scores, so its output
  const auto kernel = functional::self_attention(qkv, 1), ref = functional::self_attention_reference(qkv, 1);
  EXPECT_TRUE(torch::equal(kernel.isnan(), ref.isnan()));
  EXPECT_TRUE(kernel[0][1].isnan().all().item<bool>());
  EXPECT_FALSE(kernel[0][0].isnan().any().item<bool>());
}

TEST(SelfAttention, OtherInputTakesTorchOpsWithTheSameResult) {
  torch::manual_seed(8);
  auto wide = torch::randn({2, 5, 2 * 3 * 2 * 4});
  auto strided = wide.narrow(2, 0, 3 * 2 * 4);  // not contiguous
  EXPECT_LT(max_diff(functional::self_attention(strided, 2), attention_by_loops(strided, 2)), 1e-5);
  auto bf16 = torch::randn({2, 5, 3 * 2 * 4}).to(torch::kBFloat16);
  EXPECT_EQ(functional::self_attention(bf16, 2).scalar_type(), torch::kBFloat16);
  EXPECT_LT(max_diff(functional::self_attention(bf16, 2), attention_by_loops(bf16, 2)), 5e-2);
}

TEST(SelfAttention, BadShapesNameWhatWasWrong) {
  auto qkv = torch::randn({2, 5, 3 * 8});
  try {
    functional::self_attention(qkv, 5);
    FAIL() << "5 heads of 24 / 3 = 8 values accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("5 heads"), std::string::npos) << e.what_without_backtrace();
  }
  EXPECT_THROW(functional::self_attention(torch::randn({5, 24}), 2), c10::Error);
  EXPECT_THROW(functional::self_attention(qkv, 0), c10::Error);
}

TEST(SelfAttention, TheViTBlockGivesTheSameGradientsThroughEitherPath) {
  torch::manual_seed(9);
  nets::Attention attn(nets::TransformerBlockOptions(16, 4));
  auto x = torch::randn({3, 13, 16});
  auto loss_of = [&](bool reference) {
    attn->zero_grad();
    auto qkv = attn->qkv->forward(x);
    auto y = attn->proj->forward(reference ? functional::self_attention_reference(qkv, 4)
                                           : functional::self_attention(qkv, 4));
    y.pow(2).sum().backward();
    return std::make_pair(y.detach(), attn->qkv->weight.grad().clone());
  };
  const auto [y_kernel, g_kernel] = loss_of(false);
  const auto [y_ref, g_ref] = loss_of(true);
  EXPECT_LT(max_diff(y_kernel, y_ref), 1e-5);
  EXPECT_LT(max_diff(g_kernel, g_ref), 1e-4);
  EXPECT_LT(max_diff(attn->forward(x), y_kernel), 1e-6);
}

}  // namespace
