// The masked-autoencoder pieces: patchify / unpatchify, per-sample random masking, the fixed
// sine-cosine position embedding and the decoder.
#include "selfsup/nets/mae.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "selfsup/nets/vit.h"
#include "selfsup/core/runtime.h"
#include "selfsup/train/precision.h"
#include "support/loss_testing.h"

namespace nets = selfsup::nets;
namespace T = selfsup::testing;

TEST(Patchify, UnpatchifyInvertsItForEveryPatchSizeAndChannelCount) {
  struct Case {
    int64_t channels, size, patch;
  };
  for (const auto& c : {Case{1, 28, 4}, Case{1, 28, 7}, Case{3, 32, 4}, Case{3, 32, 8}, Case{2, 12, 3}}) {
    const auto x = T::randn64({2, c.channels, c.size, c.size}, 1);
    const auto p = nets::patchify(x, c.patch);
    const int64_t g = c.size / c.patch;
    ASSERT_EQ(p.sizes(), torch::IntArrayRef({2, g * g, c.patch * c.patch * c.channels}));
    EXPECT_TRUE(torch::equal(nets::unpatchify(p, c.patch, c.channels), x)) << c.size << "/" << c.patch;
  }
}

TEST(Patchify, LayoutIsRowMajorPatchesOfRowColumnChannel) {
  // Pixel (channel ch, row r, column w) lands in patch (r / p) * g + w / p at ((r % p) * p + w % p) * C + ch.
  const int64_t c = 3, s = 8, p = 4, g = s / p;
  const auto x = torch::arange(c * s * s, torch::kDouble).view({1, c, s, s});
  const auto patches = nets::patchify(x, p);
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t r = 0; r < s; ++r) {
      for (int64_t w = 0; w < s; ++w) {
        const auto got = patches[0][(r / p) * g + w / p][((r % p) * p + w % p) * c + ch].item<double>();
        ASSERT_EQ(got, x[0][ch][r][w].item<double>()) << ch << " " << r << " " << w;
      }
    }
  }
}

TEST(Patchify, RejectsBadShapes) {
  T::expect_error_mentions([] { nets::patchify(torch::zeros({1, 1, 28, 28}), 5); }, {"patch_size 5", "28x28"});
  T::expect_error_mentions([] { nets::patchify(torch::zeros({1, 28, 28}), 4); }, {"[N, C, H, W]"});
  T::expect_error_mentions([] { nets::unpatchify(torch::zeros({1, 48, 16}), 4, 1); }, {"48 patches", "square"});
  T::expect_error_mentions([] { nets::unpatchify(torch::zeros({1, 49, 16}), 4, 3); }, {"16 values", "4x4x3"});
}

TEST(RandomMasking, KeepsRoundedShareOfDistinctPatchesPerSample) {
  const int64_t n = 6, l = 49, d = 5;
  // Token (i, j) holds j in every feature, so a kept token tells which patch it was.
  const auto tokens = torch::arange(l, torch::kDouble).view({1, l, 1}).expand({n, l, d}).contiguous();
  const auto noise = torch::rand({n, l}, torch::kDouble);
  const auto m = nets::random_masking(tokens, 0.75, noise);
  const int64_t keep = std::llround(l * 0.25);  // 12
  ASSERT_EQ(m.visible.sizes(), torch::IntArrayRef({n, keep, d}));
  ASSERT_EQ(m.mask.sizes(), torch::IntArrayRef({n, l}));
  std::set<std::vector<int64_t>> kept_sets;
  for (int64_t i = 0; i < n; ++i) {
    std::set<int64_t> kept;
    for (int64_t k = 0; k < keep; ++k) kept.insert(static_cast<int64_t>(m.visible[i][k][0].item<double>()));
    EXPECT_EQ(static_cast<int64_t>(kept.size()), keep) << "sample " << i << " kept a patch twice";
    for (int64_t j = 0; j < l; ++j) EXPECT_EQ(m.mask[i][j].item<float>(), kept.count(j) ? 0.f : 1.f);
    kept_sets.insert(std::vector<int64_t>(kept.begin(), kept.end()));
  }
  EXPECT_EQ(static_cast<int64_t>(kept_sets.size()), n) << "two samples drew the same patches";
  EXPECT_EQ(nets::visible_count(64, 0.75), 16);
  EXPECT_EQ(nets::visible_count(49, 0.7), 15);  // round(14.7)
}

TEST(RandomMasking, RestoringTheOrderInvertsTheShuffle) {
  const int64_t n = 3, l = 16, d = 4;
  const auto tokens = T::randn64({n, l, d}, 2);
  const auto m = nets::random_masking(tokens, 0.5, torch::rand({n, l}, torch::kDouble));
  // What the decoder does: visible tokens then placeholders, gathered back by ids_restore. The
  // visible ones return to their own positions, the placeholders fill the masked ones.
  const auto filler = torch::full({n, l - m.visible.size(1), d}, 1e9, torch::kDouble);
  const auto restored = torch::cat({m.visible, filler}, 1).gather(1, m.ids_restore.unsqueeze(-1).expand({n, l, d}));
  const auto visible = (m.mask == 0).unsqueeze(-1).expand({n, l, d});
  EXPECT_TRUE(torch::equal(restored.masked_select(visible), tokens.masked_select(visible)));
  EXPECT_TRUE((restored.masked_select(visible.logical_not()) == 1e9).all().item<bool>());
}

TEST(RandomMasking, RejectsRatiosOutsideTheOpenInterval) {
  const auto tokens = torch::zeros({1, 16, 2});
  const auto noise = torch::rand({1, 16});
  for (const double r : {0.0, 1.0, -0.5, 1.5, std::nan("")}) {
    T::expect_error_mentions([&] { nets::random_masking(tokens, r, noise); }, {"mask ratio must be in (0, 1)"});
  }
  T::expect_error_mentions([&] { nets::random_masking(tokens, 0.99, noise); }, {"keeps 0 of 16"});
  T::expect_error_mentions([&] { nets::random_masking(tokens, 0.5, torch::rand({1, 15})); }, {"noise", "[1, 16]"});
}

TEST(SinCosPosEmbed, MatchesTheClosedForm) {
  const int64_t dim = 8, g = 3;
  const auto e = nets::sincos_pos_embed_2d(dim, g);
  ASSERT_EQ(e.sizes(), torch::IntArrayRef({1 + g * g, dim}));
  EXPECT_EQ(e[0].abs().sum().item<float>(), 0.f);  // the class token's row
  for (int64_t r = 0; r < g; ++r) {
    for (int64_t c = 0; c < g; ++c) {
      const auto row = e[1 + r * g + c];
      for (int64_t k = 0; k < dim / 4; ++k) {
        const double w = std::pow(10000.0, -static_cast<double>(k) / (dim / 4));
        EXPECT_NEAR(row[k].item<float>(), std::sin(c * w), 1e-6);
        EXPECT_NEAR(row[dim / 4 + k].item<float>(), std::cos(c * w), 1e-6);
        EXPECT_NEAR(row[dim / 2 + k].item<float>(), std::sin(r * w), 1e-6);
        EXPECT_NEAR(row[3 * dim / 4 + k].item<float>(), std::cos(r * w), 1e-6);
      }
    }
  }
  T::expect_error_mentions([] { nets::sincos_pos_embed_2d(6, 2); }, {"multiple of 4", "6"});
}

TEST(MaeDecoder, PredictsEveryPatchAndPlacesTheMaskToken) {
  torch::manual_seed(0);
  const int64_t n = 2, l = 16, enc = 12, pix = 9;
  nets::MaeDecoder dec(nets::MaeDecoderOptions(enc, l, pix).dim(8).depth(1).heads(2));
  const auto tokens = torch::randn({n, l, enc});
  const auto m = nets::random_masking(tokens, 0.75, torch::rand({n, l}));
  const auto encoded = torch::cat({torch::randn({n, 1, enc}), m.visible}, 1);
  const auto pred = dec->forward(encoded, m.ids_restore);
  ASSERT_EQ(pred.sizes(), torch::IntArrayRef({n, l, pix}));
  // The position embedding is a fixed buffer, the mask token a parameter.
  EXPECT_EQ(dec->named_buffers().size(), 1u);
  EXPECT_TRUE(dec->named_parameters().contains("mask_token"));
  // Gradient reaches the mask token and the embedding.
  pred.sum().backward();
  EXPECT_GT(dec->mask_token.grad().abs().sum().item<float>(), 0.f);
  EXPECT_GT(dec->decoder_embed->weight.grad().abs().sum().item<float>(), 0.f);
  T::expect_error_mentions([&] { dec->forward(encoded.narrow(2, 0, 5), m.ids_restore); }, {"MaeDecoder", "12"});
  T::expect_error_mentions([] { nets::MaeDecoder(nets::MaeDecoderOptions(8, 15, 4)); }, {"square", "15"});
}

TEST(MaeDecoder, RunsUnderBf16AutocastAndKeepsItsResidualStreamInFloat) {
  if (!cpu_has_native_bf16()) GTEST_SKIP() << "no native bf16 here (or SELFSUP_CPU_ISA below avx512): training never autocasts";
  // CPU autocast hands the blocks bf16 Linear outputs; LibTorch 1.13's CPU LayerNorm refuses a
  // bf16 input with fp32 weights, so the stream between the blocks must stay in float.
  torch::manual_seed(1);
  const int64_t n = 2, l = 16, enc = 12, pix = 9;
  nets::ViTImpl vit(nets::ViTOptions(1, 16).patch_size(4).dim(enc).depth(1).heads(2));
  nets::MaeDecoder dec(nets::MaeDecoderOptions(enc, l, pix).dim(8).depth(2).heads(2));
  const auto images = torch::randn({n, 1, 16, 16});
  torch::Tensor pred;
  {
    selfsup::train::AutocastScope bf16(true, torch::kCPU);
    pred = nets::mae_forward(vit, *dec, images, 0.75, torch::rand({n, l})).pred;
  }
  ASSERT_EQ(pred.sizes(), torch::IntArrayRef({n, l, pix}));
  EXPECT_TRUE(torch::isfinite(pred).all().item<bool>());
  pred.to(torch::kFloat).sum().backward();
  EXPECT_GT(dec->mask_token.grad().abs().sum().item<float>(), 0.f);
}
