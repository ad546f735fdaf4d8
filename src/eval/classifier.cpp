#include "selfsup/eval/classifier.h"

namespace selfsup::eval {
namespace {

/// A [rows, columns] int64 or float64 tensor as nested JSON rows.
template <typename T>
nlohmann::json rows_of(const torch::Tensor& t) {
  const auto c = t.contiguous();
  if (c.dim() == 1) return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
  std::vector<std::vector<T>> out;
  for (int64_t i = 0; i < c.size(0); ++i) {
    const T* row = c[i].data_ptr<T>();
    out.emplace_back(row, row + c.size(1));
  }
  return out;
}

}  // namespace

torch::Tensor predict(const Encode& model, const data::Dataset& d, const train::Normalization& norm,
                      torch::Device device) {
  return extract_features(model, d.images, norm, device).argmax(1);
}

nlohmann::json classifier_report(methods::SemiMethodImpl& method, const ClassifierData& data,
                                 const train::Normalization& norm, torch::Device device) {
  method.eval();
  const Encode student = [&](const torch::Tensor& x) { return method.student->forward(x); };
  const Encode ema = [&](const torch::Tensor& x) { return method.ema->forward(x); };
  nlohmann::json s;
  const int64_t classes = data.test.num_classes();
  s["val_acc"] = accuracy(predict(student, data.val, norm, device), data.val.labels);
  const auto val_ema = predict(ema, data.val, norm, device);
  s["val_acc_ema"] = accuracy(val_ema, data.val.labels);
  s["test_acc"] = accuracy(predict(student, data.test, norm, device), data.test.labels);
  const auto test_ema = predict(ema, data.test, norm, device);
  s["test_acc_ema"] = accuracy(test_ema, data.test.labels);
  // Which classes the EMA model gives up on: with 10 labels per class the total hides it.
  s["val_acc_ema_per_class"] = rows_of<double>(per_class_accuracy(val_ema, data.val.labels, classes));
  s["test_acc_ema_per_class"] = rows_of<double>(per_class_accuracy(test_ema, data.test.labels, classes));
  s["test_confusion_ema"] = rows_of<int64_t>(confusion_matrix(test_ema, data.test.labels, classes));
  // Every training image labeled (a fully supervised run): no pseudo-label to score.
  if (data.unlabeled.size() == 0) return s;
  auto probs = torch::softmax(extract_features(ema, data.unlabeled.images, norm, device), 1);
  const auto [conf, pred] = probs.max(1);
  s["unlabeled_acc"] = accuracy(pred, data.unlabeled.labels);
  if (const auto tau = method.confidence_threshold()) {
    const auto accepted = conf >= *tau;
    const double n = accepted.sum().item<double>();
    s["unlabeled_threshold"] = *tau;
    s["unlabeled_mask_rate"] = n / static_cast<double>(data.unlabeled.size());
    s["unlabeled_pseudo_label_acc"] =
        n > 0 ? pred.eq(data.unlabeled.labels.to(pred.device())).logical_and(accepted).sum().item<double>() / n : 0.0;
  }
  return s;
}

LinearHead probe_head(methods::SemiMethodImpl& m, const data::Dataset& labeled, const data::Dataset& val,
                      const train::Normalization& norm, torch::Device device) {
  auto& c = m.student;
  const bool was_training = c->is_training();
  c->eval();
  auto features = [&](const torch::Tensor& images) {
    return extract_features([&](const torch::Tensor& x) { return c->hidden_features(c->backbone->forward(x)); },
                            images, norm, device);
  };
  // The weak view flips images, so their mirror images are fair extra rows for so few labels.
  auto train_x = features(torch::cat({labeled.images, labeled.images.flip({3})}));
  auto train_y = torch::cat({labeled.labels, labeled.labels});
  auto head = fit_linear_head(train_x, train_y, features(val.images), val.labels, c->head->weight.size(0),
                              LinearProbeOptions().l2_grid({1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0}));
  c->train(was_training);
  torch::NoGradGuard no_grad;
  for (auto* target : {&m.student, &m.ema}) {
    (*target)->head->weight.copy_(head.weight);
    (*target)->head->bias.copy_(head.bias);
  }
  return head;
}

}  // namespace selfsup::eval
