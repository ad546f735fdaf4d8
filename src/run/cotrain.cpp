#include "selfsup/run/cotrain.h"

#include <filesystem>
#include <iostream>

#include "common.h"
#include "selfsup/data/npy.h"
#include "selfsup/data/splits.h"
#include "selfsup/eval/cotrain.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/plot/chart.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::run {
namespace fs = std::filesystem;
namespace {

struct View {
  torch::Tensor features, labels;
};

/// features.npy and labels.npy of an embedding folder, checked against each other.
View read_view(const std::string& dir, const char* flag) {
  TORCH_CHECK(!dir.empty(), "cotrain needs ", flag, " DIR (a folder with features.npy and labels.npy)");
  const auto fpath = (fs::path(dir) / "features.npy").string(), lpath = (fs::path(dir) / "labels.npy").string();
  View v;
  v.features = data::parse_npy(detail::read_file(fpath, std::string(flag) + "'s features"), fpath);
  v.labels = data::parse_npy(detail::read_file(lpath, std::string(flag) + "'s labels"), lpath);
  TORCH_CHECK(v.features.dim() == 2 && v.features.is_floating_point(), flag, ": ", fpath,
              " must hold float features [N, D], got ", v.features.scalar_type(), " ", v.features.sizes());
  TORCH_CHECK(v.labels.dim() == 1 && !v.labels.is_floating_point(), flag, ": ", lpath,
              " must hold integer labels [N], got ", v.labels.scalar_type(), " ", v.labels.sizes());
  TORCH_CHECK(v.labels.size(0) == v.features.size(0), flag, ": ", v.features.size(0), " feature rows but ",
              v.labels.size(0), " labels in ", dir);
  TORCH_CHECK(torch::isfinite(v.features).all().item<bool>(), flag, ": ", fpath, " holds a value that is not finite");
  v.features = v.features.to(torch::kFloat32);
  v.labels = v.labels.to(torch::kLong);
  return v;
}

/// The two views must be of the same images in the same order: their labels must agree row by row.
void check_same_images(const View& a, const View& b, const char* fa, const char* fb) {
  TORCH_CHECK(a.labels.size(0) == b.labels.size(0), fa, " has ", a.labels.size(0), " images, ", fb, " has ",
              b.labels.size(0), ": the two views must be of the same images");
  TORCH_CHECK(a.labels.equal(b.labels), fa, " and ", fb,
              " label their rows differently: the two views must list the same images in the same order");
}

double accuracy(const torch::Tensor& scores, const torch::Tensor& labels) {
  return eval::accuracy(scores.argmax(1).cpu(), labels);
}

}  // namespace

nlohmann::json cotrain(const CoTrainOptions& o) {
  TORCH_CHECK(!o.out.empty(), "cotrain needs --out DIR");
  const auto summary_path = (fs::path(o.out) / "cotrain.json").string();
  TORCH_CHECK(o.overwrite || !fs::exists(summary_path), o.out, " holds a co-training run (cotrain.json): --overwrite "
              "replaces it");
  const auto tr1 = read_view(o.train1, "--train1"), tr2 = read_view(o.train2, "--train2");
  const auto te1 = read_view(o.test1, "--test1"), te2 = read_view(o.test2, "--test2");
  check_same_images(tr1, tr2, "--train1", "--train2");
  check_same_images(te1, te2, "--test1", "--test2");
  TORCH_CHECK(tr1.features.size(1) == te1.features.size(1) && tr2.features.size(1) == te2.features.size(1),
              "each view's training and test features must have one width, got ", tr1.features.size(1), " and ",
              te1.features.size(1), " (view 1), ", tr2.features.size(1), " and ", te2.features.size(1), " (view 2)");
  const int64_t classes = std::max(tr1.labels.max().item<int64_t>(), te1.labels.max().item<int64_t>()) + 1;
  TORCH_CHECK(tr1.labels.min().item<int64_t>() >= 0 && te1.labels.min().item<int64_t>() >= 0,
              "cotrain: labels must be >= 0");

  const auto split = data::semi_split(tr1.labels, o.labels_per_class, o.val_per_class, o.seed);
  const eval::TwoViews train{tr1.features, tr2.features}, test{te1.features, te2.features};
  const eval::TwoViews val{tr1.features.index_select(0, split.val), tr2.features.index_select(0, split.val)};
  const auto val_y = tr1.labels.index_select(0, split.val);
  nlohmann::json rounds = nlohmann::json::array();
  std::vector<double> xs, v1, v2, vc, added_acc;
  int64_t best = 0;
  double best_val = -1;
  const auto result = eval::co_training(
      train, split.labeled, tr1.labels.index_select(0, split.labeled), split.unlabeled, val, val_y, classes,
      eval::CoTrainingOptions().rounds(o.rounds).per_class(o.per_class), [&](const eval::CoTrainingRound& r) {
        torch::NoGradGuard no_grad;
        const double val1 = accuracy(eval::linear_logits(r.head1, val.view1), val_y);
        const double val2 = accuracy(eval::linear_logits(r.head2, val.view2), val_y);
        const double valc = accuracy(eval::co_training_scores(r.head1, r.head2, val), val_y);
        const double t1 = accuracy(eval::linear_logits(r.head1, test.view1), te1.labels);
        const double t2 = accuracy(eval::linear_logits(r.head2, test.view2), te1.labels);
        const double tc = accuracy(eval::co_training_scores(r.head1, r.head2, test), te1.labels);
        // The true labels of the images just labeled: for this count only.
        const auto right = tr1.labels.index_select(0, r.added).eq(r.added_labels);
        const double acc = r.added.numel() ? right.to(torch::kFloat64).mean().item<double>() : 0.0;
        rounds.push_back({{"round", r.round}, {"labeled", r.labeled}, {"val_acc_view1", val1}, {"val_acc_view2", val2},
                          {"val_acc", valc}, {"test_acc_view1", t1}, {"test_acc_view2", t2}, {"test_acc", tc},
                          {"l2_view1", r.head1.l2}, {"l2_view2", r.head2.l2}, {"added", r.added.numel()},
                          {"added_by_view1", r.added_by.eq(1).sum().item<int64_t>()},
                          {"added_correct", right.sum().item<int64_t>()}});
        if (valc > best_val) {
          best_val = valc;
          best = r.round;
        }
        xs.push_back(static_cast<double>(r.round));
        v1.push_back(100 * val1);
        v2.push_back(100 * val2);
        vc.push_back(100 * valc);
        if (r.added.numel()) added_acc.push_back(100 * acc);
        if (!o.quiet) {
          std::cerr << "round " << r.round << ": " << r.labeled << " labeled, val " << 100 * val1 << " / " << 100 * val2
                    << " / combined " << 100 * valc << "; labeled " << r.added.numel() << " more, "
                    << 100 * acc << "% right" << std::endl;
        }
      });
  const auto& first = rounds.front();
  const auto& chosen = rounds[static_cast<size_t>(best)];
  nlohmann::json j{{"train1", o.train1}, {"train2", o.train2}, {"test1", o.test1}, {"test2", o.test2},
                   {"labels_per_class", o.labels_per_class}, {"val_per_class", o.val_per_class}, {"seed", o.seed},
                   {"rounds_planned", o.rounds}, {"per_class", o.per_class}, {"classes", classes},
                   {"labeled", split.labeled.numel()}, {"unlabeled", split.unlabeled.numel()},
                   {"validation", split.val.numel()}, {"test", te1.labels.numel()},
                   {"chosen_round", best}, {"chosen_by", "the combined classifier's validation accuracy"},
                   {"test_acc", chosen["test_acc"]}, {"val_acc", chosen["val_acc"]},
                   {"test_acc_round0", first["test_acc"]}, {"test_acc_last", rounds.back()["test_acc"]},
                   {"rounds", rounds}};
  fs::create_directories(o.out);
  std::vector<plot::Series> series{{"view 1, val", xs, v1, {}}, {"view 2, val", xs, v2, {}},
                                   {"combined, val", xs, vc, {}}};
  if (!added_acc.empty()) {
    series.push_back({"labels added: share right", std::vector<double>(xs.begin(), xs.begin() + added_acc.size()),
                      added_acc, {}});
  }
  train::write_file_atomic((fs::path(o.out) / "cotrain.png").string(),
                           plot::line_chart_png(series, plot::ChartOptions()
                                                            .title("co-training: validation accuracy per round")
                                                            .x_label("round")
                                                            .y_label("%")));
  train::write_file_atomic(summary_path, j.dump(2) + "\n");
  return j;
}

}  // namespace selfsup::run
