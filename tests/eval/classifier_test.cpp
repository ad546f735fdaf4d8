// A trained classifier's report (eval/classifier.h) against the figures recomputed by hand, and
// the linear probe that starts a classifier's head from frozen features (LP-FT).
#include <gtest/gtest.h>

#include <map>

#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"
#include "selfsup/eval/classifier.h"
#include "selfsup/methods/semi.h"

using namespace selfsup;

namespace {

struct Small {
  data::DataSplits data;
  data::Dataset labeled, val, unlabeled;
  train::Normalization norm;
};

Small small_data() {
  const auto cfg = Config::parse("data: {name: fashion-mnist, limit: 600}");
  Small s;
  s.data = data::load_dataset(cfg);
  s.labeled = s.data.train.head(100);
  s.val = s.data.train.subset(torch::arange(100, 300));
  s.unlabeled = s.data.train.subset(torch::arange(300, 600));
  s.data.test = s.data.test.head(300);
  s.norm = train::Normalization::from_config(cfg, s.data.train.images);
  return s;
}

/// A classifier with BatchNorm statistics measured on the images (a few training-mode passes
/// without gradients), so that its frozen features in eval mode carry the images' content.
std::shared_ptr<methods::SemiMethodImpl> calibrated(const std::string& method, int64_t hidden, const Small& s,
                                                    const std::string& set = "") {
  auto cfg = Config::parse("{model: {backbone: convnet, channels: [8, 16, 32]}}");
  cfg.set("method.name", YAML::Node(method));
  cfg.set("model.classifier_hidden_dim", YAML::Node(hidden));
  if (!set.empty()) cfg.set(set);
  seed_everything(4);
  auto m = methods::make_semi_method(cfg, {1, 28, 10, s.unlabeled.size(), s.labeled.size()});
  torch::NoGradGuard no_grad;
  m->train();
  const auto x = s.norm.apply(s.data.train.images.slice(0, 0, 256).to(torch::kFloat32) / 255.0);
  for (int i = 0; i < 30; ++i) {
    m->student->forward(x);
    m->ema->forward(x);
  }
  return m;
}

}  // namespace

TEST(ClassifierReport, FiguresAgreeWithPredictionsRecountedByHand) {
  init_runtime(2);
  const auto s = small_data();
  auto m = calibrated("fixmatch", 0, s);
  const auto r = eval::classifier_report(*m, {s.val, s.data.test, s.unlabeled}, s.norm, torch::kCPU);
  EXPECT_FALSE(m->is_training());
  const auto ema = [&](const torch::Tensor& x) { return m->ema->forward(x); };
  const auto student = [&](const torch::Tensor& x) { return m->student->forward(x); };
  const auto test_ema = eval::predict(ema, s.data.test, s.norm, torch::kCPU);
  EXPECT_DOUBLE_EQ(r.at("test_acc_ema").get<double>(), eval::accuracy(test_ema, s.data.test.labels));
  EXPECT_DOUBLE_EQ(r.at("val_acc").get<double>(),
                   eval::accuracy(eval::predict(student, s.val, s.norm, torch::kCPU), s.val.labels));
  // Confusion rows: every test image once, in the row of its true class, in the column predicted.
  const auto rows = r.at("test_confusion_ema").get<std::vector<std::vector<int64_t>>>();
  ASSERT_EQ(rows.size(), 10u);
  std::map<std::pair<int64_t, int64_t>, int64_t> counted;
  for (int64_t i = 0; i < s.data.test.size(); ++i) {
    ++counted[{s.data.test.labels[i].item<int64_t>(), test_ema[i].item<int64_t>()}];
  }
  int64_t correct = 0;
  for (int64_t t = 0; t < 10; ++t) {
    for (int64_t p = 0; p < 10; ++p) EXPECT_EQ(rows[t][p], (counted[{t, p}])) << t << " -> " << p;
    correct += rows[t][t];
  }
  EXPECT_DOUBLE_EQ(r.at("test_acc_ema").get<double>(), static_cast<double>(correct) / s.data.test.size());
  // The pseudo-label figures use FixMatch's own threshold; at threshold 0 every image passes.
  EXPECT_DOUBLE_EQ(r.at("unlabeled_threshold").get<double>(), 0.95);
  const auto unlabeled = eval::predict(ema, s.unlabeled, s.norm, torch::kCPU);
  EXPECT_DOUBLE_EQ(r.at("unlabeled_acc").get<double>(), eval::accuracy(unlabeled, s.unlabeled.labels));
  auto all = calibrated("fixmatch", 0, s, "method.threshold=0.0");
  const auto r0 = eval::classifier_report(*all, {s.val, s.data.test, s.unlabeled}, s.norm, torch::kCPU);
  EXPECT_DOUBLE_EQ(r0.at("unlabeled_mask_rate").get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(r0.at("unlabeled_pseudo_label_acc").get<double>(), r.at("unlabeled_acc").get<double>());
  EXPECT_LT(r.at("unlabeled_mask_rate").get<double>(), 1.0);
}

TEST(ClassifierReport, MethodsWithoutAThresholdReportNoMaskRate) {
  init_runtime(2);
  const auto s = small_data();
  auto m = calibrated("mean_teacher", 0, s);
  const auto r = eval::classifier_report(*m, {s.val, s.data.test, s.unlabeled}, s.norm, torch::kCPU);
  EXPECT_TRUE(r.contains("unlabeled_acc"));
  EXPECT_FALSE(r.contains("unlabeled_mask_rate")) << r.dump();
  EXPECT_FALSE(r.contains("unlabeled_threshold")) << r.dump();
}

TEST(ProbeHead, FitsOnlyTheHeadAndGivesStudentAndEmaTheSameOne) {
  init_runtime(2);
  const auto s = small_data();
  const auto& labeled = s.labeled;
  const auto& val = s.val;
  const auto& norm = s.norm;
  for (int64_t hidden : {0, 24}) {
    auto m = calibrated("fixmatch", hidden, s);
    m->train();
    std::map<std::string, torch::Tensor> before;
    for (const auto& kv : m->student->named_parameters()) before[kv.key()] = kv.value().clone();
    for (const auto& kv : m->student->named_buffers()) before[kv.key()] = kv.value().clone();

    auto head = eval::probe_head(*m, labeled, val, norm, torch::kCPU);
    EXPECT_TRUE(m->student->is_training());
    // The encoder (and the hidden layer, BatchNorm statistics included) stays as pretrained.
    for (const auto& kv : m->student->named_parameters()) {
      if (kv.key().rfind("head.", 0) == 0) continue;
      EXPECT_TRUE(torch::equal(kv.value(), before[kv.key()])) << kv.key();
    }
    for (const auto& kv : m->student->named_buffers()) EXPECT_TRUE(torch::equal(kv.value(), before[kv.key()])) << kv.key();
    EXPECT_FALSE(torch::equal(m->student->head->weight, before["head.weight"]));
    for (auto* c : {&m->student, &m->ema}) {
      EXPECT_TRUE(torch::equal((*c)->head->weight, head.weight)) << hidden;
      EXPECT_TRUE(torch::equal((*c)->head->bias, head.bias)) << hidden;
    }
    // The whole classifier in eval mode scores on `val` what the probe was chosen with (up to a
    // near-tie flipped by the other order of the float sums).
    m->student->eval();
    auto predicted = eval::extract_features([&](const torch::Tensor& x) { return m->student->forward(x); }, val.images,
                                            norm, torch::kCPU)
                         .argmax(1);
    EXPECT_NEAR(eval::accuracy(predicted, val.labels), head.val_accuracy, 0.011) << hidden;
    // Random convolutions with measured BatchNorm statistics already separate classes far above
    // chance (10%).
    EXPECT_GT(head.val_accuracy, 0.3) << hidden;
  }
}
