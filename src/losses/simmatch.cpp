#include "selfsup/losses/simmatch.h"

#include "selfsup/losses/common.h"

namespace selfsup::functional {
namespace {
namespace D = losses::detail;

void check_bank(const torch::Tensor& bank, const torch::Tensor& embeddings, const char* fn, const char* name) {
  D::check_matrix(bank, fn, "bank", /*min_rows=*/1);
  TORCH_CHECK(bank.size(1) == embeddings.size(1), fn, ": ", name, " must have the bank's dimension ", bank.size(1),
              ", got shape ", embeddings.sizes());
  TORCH_CHECK(bank.device() == embeddings.device(), fn, ": bank and ", name, " must be on one device, got ",
              bank.device(), " and ", embeddings.device());
}

// Log-similarities of unit embeddings to the bank, in the compute dtype: [N, K].
torch::Tensor bank_logits(const torch::Tensor& embeddings, const torch::Tensor& bank, double temperature) {
  const auto e = D::normalize_rows(embeddings);
  return e.matmul(bank.to(e.scalar_type()).t()) / temperature;
}

}  // namespace

SimMatchTargets simmatch_targets(const torch::Tensor& weak_probs, const torch::Tensor& weak_embeddings,
                                 const torch::Tensor& bank, const torch::Tensor& bank_labels,
                                 const SimMatchOptions& options) {
  constexpr const char* kFn = "simmatch_targets";
  D::check_matrix(weak_probs, kFn, "weak_probs", /*min_rows=*/1);
  D::check_matrix(weak_embeddings, kFn, "weak_embeddings", /*min_rows=*/1);
  TORCH_CHECK(weak_embeddings.size(0) == weak_probs.size(0), kFn,
              ": weak_embeddings must have one row per row of weak_probs (", weak_probs.size(0), "), got shape ",
              weak_embeddings.sizes());
  check_bank(bank, weak_embeddings, kFn, "weak_embeddings");
  D::check_per_sample(bank_labels, bank.size(0), bank.device(), kFn, "bank_labels");
  TORCH_CHECK(bank_labels.scalar_type() == torch::kLong, kFn, ": bank_labels must be int64, got dtype ",
              bank_labels.scalar_type());
  const int64_t classes = weak_probs.size(1);
  TORCH_CHECK(bank_labels.min().item<int64_t>() >= 0 && bank_labels.max().item<int64_t>() < classes, kFn,
              ": bank_labels must be in [0, ", classes, "), got [", bank_labels.min().item<int64_t>(), ", ",
              bank_labels.max().item<int64_t>(), "]");
  D::check_positive(options.temperature(), kFn, "temperature");
  const double alpha = options.smoothing_alpha();
  TORCH_CHECK(alpha >= 0 && alpha <= 1, kFn, ": smoothing_alpha must be in [0, 1], got ", alpha);

  torch::NoGradGuard no_grad;
  const auto q = torch::softmax(bank_logits(weak_embeddings.detach(), bank, options.temperature()), 1);
  const auto p = D::to_compute_dtype(weak_probs.detach()).to(q.scalar_type());
  const int64_t n = q.size(0);
  const auto labels = bank_labels.unsqueeze(0).expand({n, -1});
  const auto aggregated = torch::zeros({n, classes}, q.options()).scatter_add(1, labels, q);
  const auto unfolded = q * p.gather(1, labels);
  // A row whose classifier puts no mass on any banked class has no instance target to unfold
  // towards; the clamp keeps it at 0 instead of 0 / 0.
  const auto instance = unfolded / unfolded.sum(1, true).clamp_min(1e-30);
  return {alpha * p + (1 - alpha) * aggregated, instance};
}

torch::Tensor instance_similarity_loss(const torch::Tensor& strong_embeddings, const torch::Tensor& bank,
                                       const torch::Tensor& instance_probs, double temperature) {
  constexpr const char* kFn = "instance_similarity_loss";
  D::check_matrix(strong_embeddings, kFn, "strong_embeddings", /*min_rows=*/1);
  check_bank(bank, strong_embeddings, kFn, "strong_embeddings");
  D::check_matrix(instance_probs, kFn, "instance_probs", /*min_rows=*/1);
  TORCH_CHECK(instance_probs.size(0) == strong_embeddings.size(0) && instance_probs.size(1) == bank.size(0), kFn,
              ": instance_probs must be [", strong_embeddings.size(0), ", ", bank.size(0), "] (samples x bank), got ",
              instance_probs.sizes());
  D::check_positive(temperature, kFn, "temperature");
  const auto log_r = torch::log_softmax(bank_logits(strong_embeddings, bank.detach(), temperature), 1);
  const auto t = instance_probs.detach().to(log_r.scalar_type());
  return -(t * log_r).sum(1).mean();
}

}  // namespace selfsup::functional

namespace selfsup::losses {

LabeledBankImpl::LabeledBankImpl(LabeledBankOptions options_) : options(options_) { reset(); }

void LabeledBankImpl::reset() {
  TORCH_CHECK(options.size() > 0, "LabeledBank: size (labeled images) must be positive, got ", options.size());
  TORCH_CHECK(options.dim() > 0, "LabeledBank: dim must be positive, got ", options.dim());
  TORCH_CHECK(options.momentum() >= 0 && options.momentum() < 1, "LabeledBank: momentum must be in [0, 1), got ",
              options.momentum());
  embeddings = register_buffer("embeddings", torch::zeros({options.size(), options.dim()}, torch::kFloat32));
  labels = register_buffer("labels", torch::zeros({options.size()}, torch::kLong));
  written = register_buffer("written", torch::zeros({options.size()}, torch::kBool));
}

void LabeledBankImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::LabeledBank(size=" << options.size() << ", dim=" << options.dim()
         << ", momentum=" << options.momentum() << ")";
}

void LabeledBankImpl::update(const torch::Tensor& new_embeddings, const torch::Tensor& new_labels,
                             const torch::Tensor& slots) {
  constexpr const char* kFn = "LabeledBank::update";
  detail::check_matrix(new_embeddings, kFn, "embeddings", /*min_rows=*/1);
  TORCH_CHECK(new_embeddings.size(1) == options.dim(), kFn, ": embeddings must be [B, ", options.dim(),
              "], got shape ", new_embeddings.sizes());
  const int64_t b = new_embeddings.size(0);
  detail::check_per_sample(new_labels, b, new_embeddings.device(), kFn, "labels");
  detail::check_per_sample(slots, b, new_embeddings.device(), kFn, "slots");
  TORCH_CHECK(new_labels.scalar_type() == torch::kLong && slots.scalar_type() == torch::kLong, kFn,
              ": labels and slots must be int64, got dtypes ", new_labels.scalar_type(), " and ", slots.scalar_type());
  TORCH_CHECK(slots.min().item<int64_t>() >= 0 && slots.max().item<int64_t>() < options.size(), kFn,
              ": slots must be in [0, ", options.size(), "), got [", slots.min().item<int64_t>(), ", ",
              slots.max().item<int64_t>(), "]");
  torch::NoGradGuard no_grad;
  const auto dev = embeddings.device();
  const auto s = slots.to(dev);
  const auto fresh = detail::normalize_rows(new_embeddings.detach()).to(dev, torch::kFloat32);
  const auto old = embeddings.index_select(0, s);
  const auto seen = written.index_select(0, s).unsqueeze(1);
  const double m = options.momentum();
  const auto blended = torch::where(seen, m * old + (1 - m) * fresh, fresh);
  embeddings.index_copy_(0, s, detail::normalize_rows(blended));
  labels.index_copy_(0, s, new_labels.to(dev));
  written.index_fill_(0, s, true);
}

bool LabeledBankImpl::full() const { return written.all().item<bool>(); }

}  // namespace selfsup::losses
