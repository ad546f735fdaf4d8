// nets/state_dict.h: an encoder's weights through torch.save and safetensors bytes and back,
// loading with errors that name the tensor, telling state dict files from selfsup checkpoints,
// and the PyTorch definition of each backbone.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "selfsup/nets/backbone.h"
#include "selfsup/nets/state_dict.h"

using namespace selfsup;

namespace {

std::string state_dict_file(const std::string& name, const std::string& bytes) {
  const auto path = (std::filesystem::temp_directory_path() / ("selfsup_state_dict_" + name)).string();
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

nets::Backbone small_convnet(uint64_t seed) {
  torch::manual_seed(seed);
  return nets::make_backbone(nets::BackboneOptions("convnet", 1, 12).channels(std::vector<int64_t>{4, 8}));
}

void expect_same_dict(const nets::StateDict& a, const nets::StateDict& b) {
  ASSERT_EQ(a.size(), b.size());
  std::map<std::string, torch::Tensor> by_name(b.begin(), b.end());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(by_name.count(name)) << name;
    EXPECT_EQ(by_name[name].scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(by_name[name], t)) << name;
  }
}

TEST(StateDict, HoldsEveryParameterAndBufferUnderTheModulesNames) {
  const auto net = small_convnet(1);
  const auto s = nets::state_dict(*net);
  std::vector<std::string> names;
  for (const auto& kv : s) names.push_back(kv.first);
  const std::vector<std::string> expected{"features.0.weight",       "features.1.weight",
                                          "features.1.bias",         "features.4.weight",
                                          "features.5.weight",       "features.5.bias",
                                          "features.1.running_mean", "features.1.running_var",
                                          "features.1.num_batches_tracked", "features.5.running_mean",
                                          "features.5.running_var",  "features.5.num_batches_tracked"};
  EXPECT_EQ(names, expected);
}

TEST(StateDict, SafetensorsRoundTripsWithAnAlignedHeader) {
  auto s = nets::state_dict(*small_convnet(2));
  s.emplace_back("extra.bf16", torch::randn({3, 2}).to(torch::kBFloat16));
  const auto bytes = nets::safetensors_bytes(s, {{"note", "x"}});
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  EXPECT_EQ(n % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["__metadata__"]["note"], "x");
  EXPECT_EQ(header["features.0.weight"]["dtype"], "F32");
  EXPECT_EQ(header["features.0.weight"]["shape"], nlohmann::json({4, 1, 3, 3}));
  EXPECT_EQ(header["features.1.num_batches_tracked"]["dtype"], "I64");
  EXPECT_EQ(header["extra.bf16"]["dtype"], "BF16");
  const auto path = state_dict_file("a.safetensors", bytes);
  EXPECT_TRUE(nets::is_state_dict_file(path));
  expect_same_dict(s, nets::read_state_dict(path));
}

TEST(StateDict, TorchFileRoundTrips) {
  const auto s = nets::state_dict(*small_convnet(3));
  const auto bytes = nets::torch_file_bytes(s);
  const auto path = state_dict_file("a.pt", std::string(bytes.begin(), bytes.end()));
  EXPECT_TRUE(nets::is_state_dict_file(path));
  expect_same_dict(s, nets::read_state_dict(path));
}

TEST(StateDict, LoadingGivesTheSameOutputsAndReturnsWhatWasLeftOut) {
  auto a = small_convnet(4), b = small_convnet(5);
  a->eval();
  b->eval();
  auto x = torch::randn({2, 1, 12, 12});
  ASSERT_FALSE(torch::allclose(a->forward(x), b->forward(x)));
  auto s = nets::state_dict(*a);
  s.emplace_back("fc.weight", torch::zeros({10, 8}));
  EXPECT_EQ(nets::load_state_dict(*b, s, "test"), std::vector<std::string>{"fc.weight"});
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
}

TEST(StateDict, ErrorsNameTheFirstMissingOrMismatchedTensor) {
  auto net = small_convnet(6);
  auto s = nets::state_dict(*net);
  auto missing = s;
  missing.erase(missing.begin() + 2);  // features.1.bias
  try {
    nets::load_state_dict(*net, missing, "--init f.pt");
    FAIL() << "a missing tensor was accepted";
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    EXPECT_NE(msg.find("--init f.pt: no tensor 'features.1.bias'"), std::string::npos) << msg;
  }
  auto wrong = s;
  wrong[0].second = torch::zeros({4, 1, 5, 5});
  try {
    nets::load_state_dict(*net, wrong, "--init f.pt");
    FAIL() << "a tensor of another shape was accepted";
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    EXPECT_NE(msg.find("'features.0.weight' has shape [4, 1, 5, 5]"), std::string::npos) << msg;
  }
}

TEST(StateDict, DamagedFilesAndCheckpointsAreToldApart) {
  const auto bytes = nets::safetensors_bytes(nets::state_dict(*small_convnet(7)));
  const auto cut = state_dict_file("cut.safetensors", bytes.substr(0, bytes.size() - 10));
  EXPECT_TRUE(nets::is_state_dict_file(cut));
  EXPECT_THROW(nets::read_state_dict(cut), c10::Error);
  const auto text = state_dict_file("text.pt", "not weights at all");
  EXPECT_FALSE(nets::is_state_dict_file(text));
  EXPECT_THROW(nets::read_state_dict(text), c10::Error);
  // A selfsup checkpoint is a torch::serialize archive: not a state dict file.
  torch::serialize::OutputArchive archive;
  archive.write("x", torch::ones({2}));
  const auto ckpt = (std::filesystem::temp_directory_path() / "selfsup_state_dict_ckpt").string();
  archive.save_to(ckpt);
  EXPECT_FALSE(nets::is_state_dict_file(ckpt));
}

TEST(StateDict, PyTorchDefinitions) {
  EXPECT_EQ(nets::pytorch_definition(small_convnet(8))["module"], "selfsup_nets.ConvNet");
  EXPECT_EQ(nets::pytorch_definition(small_convnet(8))["args"]["channels"], nlohmann::json({4, 8}));
  const auto vit = nets::make_backbone(nets::BackboneOptions("vit_mini", 1, 28));
  EXPECT_EQ(nets::pytorch_definition(vit)["args"]["dim"], 128);
  const auto r18 = nets::make_backbone(nets::BackboneOptions("resnet18", 3, 224));
  EXPECT_EQ(nets::pytorch_definition(r18)["module"], "torchvision.models.resnet18");
  const auto small = nets::make_backbone(nets::BackboneOptions("resnet18", 1, 28));
  EXPECT_EQ(nets::pytorch_definition(small)["args"]["cifar_stem"], true);
  const auto thin = nets::make_backbone(
      nets::BackboneOptions("resnet18", 1, 28).mid_widths(std::vector<int64_t>{8, 8, 8, 8, 8, 8, 8, 8}));
  EXPECT_THROW(nets::pytorch_definition(thin), c10::Error);
}

}  // namespace
