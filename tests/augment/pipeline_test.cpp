// Pipelines, view sets, presets, their YAML form and its errors, and PNG grids.
#include "selfsup/augment/pipeline.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "selfsup/augment/png.h"
#include "selfsup/augment/randaugment.h"
#include "util.h"

namespace A = selfsup::augment;
using A::testing::max_abs_diff;
using A::testing::random_images;
using selfsup::make_generator;
using torch::Tensor;

namespace {

const char* kSimclr28 = R"(
- {op: random_resized_crop, size: 28, scale: [0.2, 1.0]}
- {op: hflip, p: 0.5}
- {op: color_jitter, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8}
- {op: grayscale, p: 0.2}
- {op: normalize, mean: [0.2860], std: [0.3530]}
)";

Tensor random_u8(int64_t b, int64_t c, int64_t h, int64_t w) {
  torch::Generator gen = make_generator(3);
  return torch::randint(0, 256, {b, c, h, w}, gen, torch::kByte);
}

// The message of the c10::Error thrown by f, or "" when none is thrown.
template <typename Fn>
std::string error_of(Fn&& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  }
  return "";
}

void expect_error(const std::string& yaml, std::initializer_list<const char*> parts) {
  const std::string msg = error_of([&] { A::Pipeline::from_yaml(YAML::Load(yaml)); });
  ASSERT_FALSE(msg.empty()) << "no error for: " << yaml;
  for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << msg;
}

}  // namespace

TEST(Pipeline, FromYamlBuildsTheOpsInOrder) {
  A::Pipeline p = A::Pipeline::from_yaml(YAML::Load(kSimclr28));
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p.describe(), "random_resized_crop -> hflip -> color_jitter -> grayscale -> normalize");
  auto* crop = dynamic_cast<const A::RandomResizedCrop*>(p.transforms()[0].get());
  ASSERT_NE(crop, nullptr);
  EXPECT_DOUBLE_EQ(crop->options().scale()[0], 0.2);
  auto* jitter = dynamic_cast<const A::ColorJitter*>(p.transforms()[2].get());
  ASSERT_NE(jitter, nullptr);
  EXPECT_DOUBLE_EQ(jitter->options().hue(), 0.1);
  EXPECT_DOUBLE_EQ(jitter->options().p(), 0.8);
}

TEST(Pipeline, AcceptsUint8AndFloatAndNormalizes) {
  A::Pipeline p = A::Pipeline::from_yaml(YAML::Load(kSimclr28));
  Tensor u8 = random_u8(8, 1, 28, 28);
  torch::Generator g1 = make_generator(1), g2 = make_generator(1);
  Tensor a = p(u8, g1);
  Tensor b = p(u8.to(torch::kFloat) / 255, g2);
  EXPECT_EQ(a.scalar_type(), torch::kFloat);
  EXPECT_EQ(a.sizes(), u8.sizes());
  EXPECT_TRUE(a.equal(b));
  EXPECT_GT(max_abs_diff(a, p(u8, g1)), 0.1);  // and the draws go on
  // Undo the normalization: back in [0, 1].
  Tensor raw = a * 0.3530 + 0.2860;
  EXPECT_GE(raw.min().item<float>(), -1e-5f);
  EXPECT_LE(raw.max().item<float>(), 1 + 1e-5f);
  EXPECT_LT(a.min().item<float>(), -0.5f);  // normalized: 0 maps to -0.81
  EXPECT_TRUE(p.without_normalize()(u8, g1).min().item<float>() >= 0.0f);
  EXPECT_EQ(p.without_normalize().size(), 4u);
}

TEST(Pipeline, YamlErrorsNameTheOpAndTheKey) {
  expect_error("- {op: hflip, p: 2}", {"item 1", "hflip", "p", "2"});
  expect_error("- {op: hflip}\n- {op: color_jitter, hue: 0.9}", {"item 2", "color_jitter", "hue"});
  expect_error("- {op: twirl}", {"unknown op 'twirl'", "hflip"});
  expect_error("- {op: hflip, probability: 0.5}", {"hflip", "unknown key 'probability'", "p"});
  expect_error("- {op: random_resized_crop}", {"random_resized_crop", "missing key 'size'"});
  expect_error("- {op: random_resized_crop, size: 28, scale: 0.5}",
               {"random_resized_crop", "'scale'", "pair"});
  expect_error("- {op: grayscale, p: often}", {"grayscale", "'p'", "number", "often"});
  expect_error("- {op: randaugment, ops: [rotate, melt]}", {"randaugment", "melt"});
  expect_error("- hflip", {"item 1", "'op'"});
  expect_error("{op: hflip}", {"preset"});
  expect_error("fancy", {"unknown preset 'fancy'", "simclr"});
  expect_error("{preset: simclr, sizes: 3}", {"preset", "unknown key 'sizes'"});
}

TEST(Pipeline, EveryOpParsesFromYaml) {
  A::Pipeline p = A::Pipeline::from_yaml(YAML::Load(R"(
- {op: random_crop, padding: 2, padding_mode: edge}
- {op: horizontal_flip}
- {op: gaussian_blur, kernel_size: 3, sigma: [0.5, 1.0], p: 1.0}
- {op: solarize, threshold: 0.7, p: 0.3}
- {op: cutout, size: 0.25, min_size: 0.1, fill: 0.0}
- {op: randaugment, n: 1, magnitude: [0.2, 0.8], ops: [rotate, equalize], fill: 0.5}
- {op: random_grayscale, p: 1.0}
- {op: random_resized_crop, size: [12, 14], ratio: [0.5, 2.0]}
)"));
  ASSERT_EQ(p.size(), 8u);
  torch::Generator gen = make_generator(2);
  Tensor y = p(random_u8(4, 3, 16, 16), gen);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{4, 3, 12, 14}));
  EXPECT_TRUE(y[0][0].equal(y[0][1]));  // grayscale with p 1
}

TEST(Pipeline, FusedCropAndFlipEqualTheTransformsOneByOne) {
  // Pipeline runs a crop followed by a flip as one pass; the result must not change.
  auto flip = std::make_shared<A::HorizontalFlip>(A::HorizontalFlipOptions().p(0.5));
  std::vector<A::TransformPtr> crops = {
      std::make_shared<A::RandomResizedCrop>(A::RandomResizedCropOptions(12).scale({0.2, 1.0})),
      std::make_shared<A::RandomCrop>(A::RandomCropOptions().padding(3)),
      std::make_shared<A::RandomCrop>(A::RandomCropOptions().padding(3).padding_mode("constant"))};
  Tensor x = random_images(32, 3, 16, 16);
  for (const auto& crop : crops) {
    A::Pipeline p;
    p.add(crop).add(flip);
    torch::Generator g1 = make_generator(3), g2 = make_generator(3);
    Tensor fused = p(x, g1);
    Tensor crop_only = (*crop)(x, g2);
    Tensor separate = (*flip)(crop_only, g2);
    EXPECT_LT(max_abs_diff(fused, separate), 1e-6) << crop->name();
    EXPECT_GT(max_abs_diff(fused, crop_only), 0.1) << crop->name();
  }
}

TEST(Presets, SimclrFor28PixelsMatchesTheSpec) {
  A::Pipeline p = A::preset("simclr", 28, 1);
  EXPECT_EQ(p.describe(), "random_resized_crop -> hflip -> color_jitter -> grayscale -> normalize");
  auto* crop = dynamic_cast<const A::RandomResizedCrop*>(p.transforms()[0].get());
  ASSERT_NE(crop, nullptr);
  EXPECT_EQ((*crop->options().size())[0], 28);
  EXPECT_DOUBLE_EQ(crop->options().scale()[0], 0.2);
  auto* jitter = dynamic_cast<const A::ColorJitter*>(p.transforms()[2].get());
  ASSERT_NE(jitter, nullptr);
  EXPECT_DOUBLE_EQ(jitter->options().brightness(), 0.4);
  EXPECT_DOUBLE_EQ(jitter->options().saturation(), 0.4);
  EXPECT_DOUBLE_EQ(jitter->options().hue(), 0.1);
  EXPECT_DOUBLE_EQ(jitter->options().p(), 0.8);
  auto* norm = dynamic_cast<const A::Normalize*>(p.transforms()[4].get());
  ASSERT_NE(norm, nullptr);
  EXPECT_DOUBLE_EQ(norm->options().mean()[0], 0.2860);
  EXPECT_EQ(
      A::preset("simclr", 224, 3).describe(),
      "random_resized_crop -> hflip -> color_jitter -> grayscale -> gaussian_blur -> normalize");
  EXPECT_EQ(A::preset("weak", 32, 3).describe(), "random_crop -> hflip -> normalize");
  EXPECT_EQ(A::preset("strong", 32, 3).describe(),
            "random_crop -> hflip -> randaugment -> cutout -> normalize");
  EXPECT_EQ(A::preset("none", 32, 3).describe(), "normalize");
}

TEST(Presets, ByNameTakeSizeAndChannelsFromTheBatch) {
  A::Pipeline lazy = A::Pipeline::from_yaml(YAML::Load("simclr"));
  for (int64_t c : {1, 3}) {
    Tensor x = random_u8(6, c, 20, 20);
    torch::Generator g1 = make_generator(4), g2 = make_generator(4);
    Tensor a = lazy(x, g1);
    Tensor b = A::preset("simclr", 20, c)(x, g2);
    EXPECT_TRUE(a.equal(b)) << c;
  }
  A::Pipeline fixed = A::Pipeline::from_yaml(
      YAML::Load("{preset: weak, size: 24, channels: 3, mean: [0.5], std: [0.5]}"));
  torch::Generator gen = make_generator(5);
  Tensor y = fixed(random_u8(2, 3, 24, 24), gen);
  EXPECT_GE(y.min().item<float>(), -1.0f);
  EXPECT_LT(y.min().item<float>(), -0.9f);
}

TEST(ViewSet, NamedViewsRepeatAndAnchors) {
  YAML::Node node = YAML::Load(R"(
pipelines:
  simclr: &simclr
    - {op: random_resized_crop, size: 28, scale: [0.2, 1.0]}
    - {op: hflip, p: 0.5}
views:
  - {name: view1, pipeline: *simclr}
  - {name: view2, pipeline: simclr}
  - {name: weak, pipeline: weak, repeat: 3}
  - {name: strong, pipeline: [{op: randaugment, n: 2}]}
)");
  A::ViewSet views = A::ViewSet::from_yaml(node);
  EXPECT_EQ(views.size(), 6u);
  EXPECT_EQ(views.names(),
            (std::vector<std::string>{"view1", "view2", "weak_0", "weak_1", "weak_2", "strong"}));
  Tensor x = random_u8(8, 1, 28, 28);
  torch::Generator g1 = make_generator(6), g2 = make_generator(6), g3 = make_generator(7);
  auto a = views(x, g1), b = views(x, g2), c = views(x, g3);
  ASSERT_EQ(a.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].sizes(), x.sizes());
    EXPECT_TRUE(a[i].equal(b[i])) << views.names()[i];
    EXPECT_FALSE(a[i].equal(c[i])) << views.names()[i];
  }
  EXPECT_FALSE(a[0].equal(a[1]));  // two draws of the same pipeline differ
  EXPECT_FALSE(a[2].equal(a[3]));
  // A bare list works too.
  EXPECT_EQ(A::ViewSet::from_yaml(YAML::Load("[{pipeline: none}, {pipeline: none}]")).names(),
            (std::vector<std::string>{"view1", "view2"}));
}

TEST(ViewSet, SameViewsWhateverTheThreadCount) {
  // With 2 threads the two views run side by side; each has its own generator, so the result
  // must be the same as one after the other.
  A::ViewSet views = A::ViewSet::from_yaml(YAML::Load("{pipeline: simclr, views: 2}"));
  Tensor x = random_u8(64, 3, 32, 32);
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  torch::Generator g1 = make_generator(11), g2 = make_generator(11);
  auto one = views(x, g1);
  at::set_num_threads(2);
  auto two = views(x, g2);
  at::set_num_threads(before);
  ASSERT_EQ(one.size(), 2u);
  EXPECT_TRUE(one[0].equal(two[0]));
  EXPECT_TRUE(one[1].equal(two[1]));
  EXPECT_FALSE(one[0].equal(one[1]));
}

TEST(ViewSet, OnePipelineForSeveralViews) {
  A::ViewSet two = A::ViewSet::from_yaml(YAML::Load("pipeline: [{op: hflip}]"));
  EXPECT_EQ(two.names(), (std::vector<std::string>{"view1", "view2"}));
  A::ViewSet three = A::ViewSet::from_yaml(YAML::Load("{pipeline: simclr, views: 3}"));
  EXPECT_EQ(three.size(), 3u);
  EXPECT_EQ(three.pipeline(2).describe(), "simclr");
  EXPECT_NE(error_of([] {
              A::ViewSet::from_yaml(YAML::Load("{pipeline: simclr, views: [a]}"));
            }).find("number of views"),
            std::string::npos);
}

TEST(ViewSet, YamlErrors) {
  auto err = [](const char* yaml) {
    return error_of([&] { A::ViewSet::from_yaml(YAML::Load(yaml)); });
  };
  EXPECT_NE(err("views: []").find("non-empty"), std::string::npos);
  EXPECT_NE(err("{view: []}").find("unknown key 'view'"), std::string::npos);
  EXPECT_NE(err("views: [{name: a}]").find("pipeline is missing"), std::string::npos);
  EXPECT_NE(err("views: [{name: a, pipeline: none, repeat: 0}]").find("repeat"), std::string::npos);
  EXPECT_NE(err("views: [{name: a, pipeline: none}, {name: a, pipeline: none}]").find("duplicate"),
            std::string::npos);
  const std::string nested = err("views: [{name: s, pipeline: [{op: hflip, p: -1}]}]");
  EXPECT_NE(nested.find("view 1 ('s')"), std::string::npos) << nested;
  EXPECT_NE(nested.find("hflip: p"), std::string::npos) << nested;
}

TEST(ViewSet, WithoutNormalizeShowsTheRawViews) {
  A::ViewSet views = A::ViewSet::from_yaml(YAML::Load("views: [{name: v, pipeline: simclr}]"));
  Tensor x = random_u8(4, 3, 16, 16);
  torch::Generator g1 = make_generator(8), g2 = make_generator(8);
  Tensor normalized = views(x, g1)[0];
  Tensor raw = views.without_normalize()(x, g2)[0];
  Tensor mean = torch::tensor({0.4914f, 0.4822f, 0.4465f}).view({1, 3, 1, 1});
  Tensor std = torch::tensor({0.2470f, 0.2435f, 0.2616f}).view({1, 3, 1, 1});
  EXPECT_LT(max_abs_diff(raw, normalized * std + mean), 1e-5);
}

TEST(Png, WritesAGridWithTheExpectedSize) {
  const std::string path = ::testing::TempDir() + "/selfsup_grid_test.png";
  A::write_png_grid(path, random_images(5, 3, 4, 6), /*columns=*/2, /*scale=*/3);
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good());
  unsigned char header[24];
  in.read(reinterpret_cast<char*>(header), 24);
  ASSERT_EQ(header[1], 'P');
  auto be32 = [&](int at) {
    return (header[at] << 24) | (header[at + 1] << 16) | (header[at + 2] << 8) | header[at + 3];
  };
  // 2 columns of 18 px and 3 rows of 12 px, 2 px borders.
  EXPECT_EQ(be32(16), 2 + 2 * (18 + 2));
  EXPECT_EQ(be32(20), 2 + 3 * (12 + 2));
  std::remove(path.c_str());
  A::write_png_grid(path, random_u8(2, 1, 4, 4), 4, 1);  // uint8, grayscale
  EXPECT_THROW(A::write_png_grid("/nonexistent-dir/x.png", random_images(1, 1, 2, 2), 1, 1),
               c10::Error);
  EXPECT_THROW(A::write_png_grid(path, random_images(1, 2, 2, 2), 1, 1), c10::Error);
  std::remove(path.c_str());
}
