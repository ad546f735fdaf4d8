#include "selfsup/eval/evaluate.h"

#include "selfsup/core/progress.h"
#include "selfsup/data/splits.h"
#include "selfsup/train/hooks.h"

namespace selfsup::eval {

namespace F = torch::nn::functional;

torch::Tensor extract_features(const std::function<torch::Tensor(const torch::Tensor&)>& encode,
                               const torch::Tensor& images_u8, const train::Normalization& norm,
                               torch::Device device, int64_t batch_size) {
  TORCH_CHECK(images_u8.dim() == 4, "extract_features: images must be [N,C,H,W], got ", images_u8.sizes());
  c10::InferenceMode guard;
  std::vector<torch::Tensor> out;
  const int64_t n = images_u8.size(0);
  Progress progress("features of " + std::to_string(n) + " images", n);
  for (int64_t i = 0; i < n; i += batch_size) {
    train::throw_if_stop_requested("the evaluation");
    auto x = images_u8.slice(0, i, std::min(i + batch_size, n)).to(device);
    out.push_back(encode(norm.apply(x.to(torch::kFloat32).div_(255.0))).to(torch::kFloat32).cpu());
    progress.advance(x.size(0));
  }
  return torch::cat(out);
}

torch::Tensor knn_predict(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                          const torch::Tensor& query, int64_t num_classes, const KnnOptions& o) {
  TORCH_CHECK(train_features.dim() == 2 && query.dim() == 2 && train_features.size(1) == query.size(1),
              "knn_predict: features must be [N,D] and [M,D], got ", train_features.sizes(), " and ", query.sizes());
  TORCH_CHECK(train_labels.size(0) == train_features.size(0), "knn_predict: ", train_labels.size(0),
              " labels for ", train_features.size(0), " features");
  TORCH_CHECK(o.k() > 0, "knn k must be positive, got ", o.k());
  TORCH_CHECK(o.temperature() > 0, "knn temperature must be positive, got ", o.temperature());
  torch::NoGradGuard no_grad;
  const auto norm = F::NormalizeFuncOptions().dim(1);
  auto bank = F::normalize(train_features.to(torch::kFloat32), norm);
  auto q = F::normalize(query.to(torch::kFloat32), norm);
  const int64_t k = std::min<int64_t>(o.k(), bank.size(0));
  auto labels = train_labels.to(bank.device());
  std::vector<torch::Tensor> preds;
  Progress progress("kNN of " + std::to_string(q.size(0)) + " images", q.size(0));
  for (int64_t i = 0; i < q.size(0); i += o.chunk()) {
    train::throw_if_stop_requested("the evaluation");
    progress.advance(std::min(o.chunk(), q.size(0) - i));
    auto sim = torch::mm(q.slice(0, i, std::min(i + o.chunk(), q.size(0))), bank.t());
    auto top = sim.topk(k, 1);
    auto weights = (std::get<0>(top) / o.temperature()).exp();
    auto neighbour_labels = labels.index({std::get<1>(top)});
    auto votes = torch::zeros({sim.size(0), num_classes}, weights.options());
    votes.scatter_add_(1, neighbour_labels, weights);
    preds.push_back(votes.argmax(1));
  }
  return torch::cat(preds);
}

double accuracy(const torch::Tensor& predicted, const torch::Tensor& labels) {
  TORCH_CHECK(predicted.numel() == labels.numel(), "accuracy: ", predicted.numel(), " predictions for ",
              labels.numel(), " labels");
  return predicted.eq(labels.to(predicted.device())).to(torch::kFloat64).mean().item<double>();
}

torch::Tensor confusion_matrix(const torch::Tensor& predicted, const torch::Tensor& labels, int64_t num_classes) {
  TORCH_CHECK(predicted.numel() == labels.numel(), "confusion_matrix: ", predicted.numel(), " predictions for ",
              labels.numel(), " labels");
  TORCH_CHECK(num_classes > 0, "confusion_matrix: num_classes must be positive, got ", num_classes);
  auto y = labels.reshape(-1).to(torch::kCPU, torch::kLong);
  auto p = predicted.reshape(-1).to(torch::kCPU, torch::kLong);
  auto in_range = [&](const torch::Tensor& t) {
    return t.numel() == 0 || (t.min().item<int64_t>() >= 0 && t.max().item<int64_t>() < num_classes);
  };
  TORCH_CHECK(in_range(y), "confusion_matrix: labels must lie in [0, ", num_classes, ")");
  TORCH_CHECK(in_range(p), "confusion_matrix: predictions must lie in [0, ", num_classes, ")");
  return torch::bincount(y * num_classes + p, {}, num_classes * num_classes).reshape({num_classes, num_classes});
}

torch::Tensor per_class_accuracy(const torch::Tensor& predicted, const torch::Tensor& labels, int64_t num_classes) {
  auto counts = confusion_matrix(predicted, labels, num_classes).to(torch::kFloat64);
  auto total = counts.sum(1);
  return torch::where(total > 0, counts.diagonal() / total.clamp_min(1), torch::zeros_like(total));
}

namespace {

struct Fitted {
  torch::Tensor w, b;
};

Fitted fit_logistic(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes, double l2, int64_t max_iter) {
  auto w = torch::zeros({x.size(1), num_classes}, x.options()).requires_grad_(true);
  auto b = torch::zeros({num_classes}, x.options()).requires_grad_(true);
  torch::optim::LBFGS opt({w, b}, torch::optim::LBFGSOptions(1.0)
                                      .max_iter(max_iter)
                                      .history_size(20)
                                      .tolerance_grad(1e-6)
                                      .tolerance_change(1e-9)
                                      .line_search_fn("strong_wolfe"));
  auto closure = [&] {
    train::throw_if_stop_requested("the evaluation");
    opt.zero_grad();
    auto loss = F::cross_entropy(torch::addmm(b, x, w), y) + 0.5 * l2 * w.pow(2).sum();
    loss.backward();
    return loss;
  };
  opt.step(closure);
  return {w.detach(), b.detach()};
}

torch::Tensor predict(const Fitted& f, const torch::Tensor& x) { return torch::addmm(f.b, x, f.w).argmax(1); }

struct Chosen {
  Fitted model;
  double l2 = 0, val_accuracy = -1;
};

/// One fit per L2 strength on standardised features; the most accurate on the validation rows wins.
/// `who` names the public function in the refusals.
Chosen choose_l2(const char* who, const torch::Tensor& x_fit, const torch::Tensor& y_fit, const torch::Tensor& x_val,
                 const torch::Tensor& y_val, int64_t num_classes, const std::vector<double>& grid, int64_t max_iter) {
  TORCH_CHECK(!grid.empty(), who, ": the L2 grid is empty");
  Chosen best;
  Progress progress(std::string(who) + ": one L-BFGS fit per L2 strength", static_cast<int64_t>(grid.size()));
  for (double l2 : grid) {
    TORCH_CHECK(l2 >= 0, who, ": L2 strengths must be >= 0, got ", l2);
    auto fitted = fit_logistic(x_fit, y_fit, num_classes, l2, max_iter);
    const double acc = accuracy(predict(fitted, x_val), y_val);
    if (acc > best.val_accuracy) best = {fitted, l2, acc};
    progress.advance();
  }
  return best;
}

}  // namespace

LinearProbeResult linear_probe(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                               const torch::Tensor& test_y, int64_t num_classes, const LinearProbeOptions& o) {
  TORCH_CHECK(train_x.dim() == 2 && test_x.dim() == 2 && train_x.size(1) == test_x.size(1),
              "linear_probe: features must be [N,D] and [M,D], got ", train_x.sizes(), " and ", test_x.sizes());
  TORCH_CHECK(o.val_fraction() > 0 && o.val_fraction() < 1, "linear probe val_fraction must be in (0,1), got ",
              o.val_fraction());
  // Standardise with training statistics only; float32 is enough for a convex fit this size.
  auto xtr = train_x.to(torch::kFloat32), xte = test_x.to(torch::kFloat32);
  auto mean = xtr.mean(0, true), std = xtr.std(0, true, true).clamp_min(1e-8);
  xtr = (xtr - mean) / std;
  xte = (xte - mean) / std;
  auto ytr = train_y.to(torch::kLong).cpu();

  const int64_t per_class = std::max<int64_t>(1, static_cast<int64_t>(o.val_fraction() * train_x.size(0) / num_classes));
  auto split = data::validation_split(ytr, per_class, o.seed());
  auto chosen = choose_l2("linear_probe", xtr.index_select(0, split.train), ytr.index_select(0, split.train),
                          xtr.index_select(0, split.val), ytr.index_select(0, split.val), num_classes, o.l2_grid(),
                          o.max_iter());
  LinearProbeResult r;
  r.val_accuracy = chosen.val_accuracy;
  r.l2 = chosen.l2;
  auto final_model = fit_logistic(xtr, ytr, num_classes, r.l2, o.max_iter());
  r.train_accuracy = accuracy(predict(final_model, xtr), ytr);
  r.test_accuracy = accuracy(predict(final_model, xte), test_y.to(torch::kLong).cpu());
  return r;
}

torch::Tensor linear_logits(const LinearHead& head, const torch::Tensor& x) {
  return torch::addmm(head.bias, x.to(head.weight.dtype()), head.weight.t());
}

LinearHead fit_linear_head(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& val_x,
                           const torch::Tensor& val_y, int64_t num_classes, const LinearProbeOptions& o) {
  TORCH_CHECK(train_x.dim() == 2 && val_x.dim() == 2 && train_x.size(1) == val_x.size(1),
              "fit_linear_head: features must be [N,D] and [M,D], got ", train_x.sizes(), " and ", val_x.sizes());
  TORCH_CHECK(train_x.size(0) == train_y.size(0) && val_x.size(0) == val_y.size(0),
              "fit_linear_head: one label per feature row, got ", train_y.size(0), " labels for ", train_x.size(0),
              " rows and ", val_y.size(0), " for ", val_x.size(0));
  const auto device = train_x.device();
  auto xtr = train_x.to(torch::kCPU, torch::kFloat32), xval = val_x.to(torch::kCPU, torch::kFloat32);
  auto mean = xtr.mean(0, true), std = xtr.std(0, true, true).clamp_min(1e-8);
  auto chosen = choose_l2("fit_linear_head", (xtr - mean) / std, train_y.to(torch::kCPU, torch::kLong), (xval - mean) / std,
                          val_y.to(torch::kCPU, torch::kLong), num_classes, o.l2_grid(), o.max_iter());
  // ((x - mean) / std) w + b  =  x (w / std^T) + (b - (mean / std) w): the same logits on raw features.
  auto w = chosen.model.w / std.t();
  LinearHead head;
  head.weight = w.t().contiguous().to(device);
  head.bias = (chosen.model.b - torch::mm(mean, w).squeeze(0)).to(device);
  head.l2 = chosen.l2;
  head.val_accuracy = chosen.val_accuracy;
  return head;
}

}  // namespace selfsup::eval
