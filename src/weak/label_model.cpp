#include "selfsup/weak/label_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "selfsup/core/runtime.h"

namespace selfsup::weak {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

/// One-hot votes [n, m, k] (float64), all zeros for an abstain.
torch::Tensor votes_one_hot(const torch::Tensor& votes, int64_t k) {
  const auto v = votes.to(torch::kLong);
  auto out = torch::zeros({v.size(0), v.size(1), k}, kF64);
  out.scatter_(2, v.clamp_min(0).unsqueeze(2), (v >= 0).to(torch::kDouble).unsqueeze(2));
  return out;
}

/// The majority label of each example as a distribution: ties split evenly; uniform where every
/// function abstains.
torch::Tensor majority(const torch::Tensor& onehot) {
  const auto counts = onehot.sum(1);
  const auto top = std::get<0>(counts.max(1, true));
  auto hard = ((counts == top) & (top > 0)).to(torch::kDouble);
  const auto uncovered = top.squeeze(1) == 0;
  hard.index_put_({uncovered}, 1.0);
  return hard / hard.sum(1, true);
}

torch::Tensor coverage_of(const torch::Tensor& votes) { return (votes >= 0).to(torch::kDouble).mean(0); }

/// P(vote right | vote) of each function against a distribution over labels [n, k].
torch::Tensor agreement(const torch::Tensor& onehot, const torch::Tensor& labels) {
  const auto right = torch::einsum("ijl,il->j", {onehot, labels});
  return right / onehot.sum(std::vector<int64_t>{0, 2}).clamp_min(1e-12);
}

torch::Tensor covered_balance(const torch::Tensor& onehot, const torch::Tensor& mv) {
  const auto covered = onehot.sum(std::vector<int64_t>{1, 2}) > 0;
  const auto b = mv.index({covered}).sum(0);
  return b / b.sum().clamp_min(1e-12);
}

}  // namespace

void check_votes(const torch::Tensor& votes, int64_t k) {
  TORCH_CHECK(k >= 2, "votes: need at least 2 classes, got ", k);
  TORCH_CHECK(votes.dim() == 2, "votes: expected a matrix [examples, labeling functions], got shape ", votes.sizes());
  TORCH_CHECK(!votes.is_floating_point() && votes.scalar_type() != torch::kBool,
              "votes: expected integer labels (-1 abstains), got ", votes.scalar_type());
  TORCH_CHECK(votes.size(0) > 0 && votes.size(1) > 0, "votes: the matrix is empty (", votes.size(0), " x ", votes.size(1), ")");
  const auto v = votes.to(torch::kLong);
  const auto bad = ((v < -1) | (v >= k)).nonzero();
  if (bad.size(0) > 0) {
    const int64_t i = bad[0][0].item<int64_t>(), j = bad[0][1].item<int64_t>();
    TORCH_CHECK(false, "votes: example ", i, ", function ", j, " votes ", v[i][j].item<int64_t>(),
                ", outside the classes 0..", k - 1, " (-1 abstains)");
  }
  TORCH_CHECK((v >= 0).any().item<bool>(), "votes: no labeling function votes on any example");
}

LabelModelResult majority_vote(const torch::Tensor& votes, int64_t k) {
  check_votes(votes, k);
  const auto oh = votes_one_hot(votes, k);
  LabelModelResult r;
  r.probabilities = majority(oh);
  r.accuracy = agreement(oh, r.probabilities);
  r.coverage = coverage_of(votes);
  r.class_balance = covered_balance(oh, r.probabilities);
  return r;
}

LabelModelResult dawid_skene(const torch::Tensor& votes, int64_t k, const DawidSkeneOptions& o,
                             std::vector<double>* objective) {
  check_votes(votes, k);
  TORCH_CHECK(o.max_iter() >= 1, "dawid_skene: max_iter must be positive, got ", o.max_iter());
  TORCH_CHECK(o.smoothing() >= 0, "dawid_skene: smoothing must be non-negative, got ", o.smoothing());
  const auto oh = votes_one_hot(votes, k);
  const int64_t n = votes.size(0);
  const double a = o.smoothing();
  const auto cov = oh.sum(2);  // [n, m]
  auto t = majority(oh);
  torch::Tensor prior, conf;
  double last = -std::numeric_limits<double>::infinity();
  LabelModelResult r;
  for (int64_t it = 0; it < o.max_iter(); ++it) {
    // M-step: class prior and every function's confusion matrix (MAP, Dirichlet(1 + a)).
    prior = (t.sum(0) + a) / (n + k * a);
    conf = (torch::einsum("ic,ijl->jcl", {t, oh}) + a) / (torch::einsum("ic,ij->jc", {t, cov}) + k * a).unsqueeze(2);
    // E-step: the posterior of every example's label.
    const auto logp = prior.clamp_min(1e-300).log().unsqueeze(0) +
                      torch::einsum("ijl,jcl->ic", {oh, conf.clamp_min(1e-300).log()});
    const auto norm = torch::logsumexp(logp, 1, true);
    t = (logp - norm).exp();
    double obj = norm.sum().item<double>();
    if (a > 0) obj += a * (conf.clamp_min(1e-300).log().sum() + prior.clamp_min(1e-300).log().sum()).item<double>();
    if (objective) objective->push_back(obj);
    r.iterations = it + 1;
    if ((obj - last) / n < o.tol()) break;
    last = obj;
  }
  r.probabilities = t;
  r.class_balance = prior;
  // P(right | votes): the diagonal of the confusion matrix, weighted by the labels of the examples
  // the function votes on.
  const auto w = torch::einsum("ic,ij->jc", {t, cov});
  r.accuracy = (w * torch::diagonal(conf, 0, 1, 2)).sum(1) / w.sum(1).clamp_min(1e-12);
  r.coverage = coverage_of(votes);
  return r;
}

LabelModelResult matrix_completion(const torch::Tensor& votes, int64_t k, const MatrixCompletionOptions& o) {
  check_votes(votes, k);
  TORCH_CHECK(o.steps() >= 1, "matrix_completion: steps must be positive, got ", o.steps());
  TORCH_CHECK(o.lr() > 0, "matrix_completion: lr must be positive, got ", o.lr());
  TORCH_CHECK(o.prec_init() > 0 && o.prec_init() < 1, "matrix_completion: prec_init must be in (0, 1), got ",
              o.prec_init());
  const auto oh = votes_one_hot(votes, k);
  const int64_t n = votes.size(0), m = votes.size(1), d = m * k;
  torch::Tensor p;
  if (o.class_balance().empty()) {
    p = covered_balance(oh, majority(oh));
  } else {
    TORCH_CHECK(static_cast<int64_t>(o.class_balance().size()) == k, "class balance: expected ", k,
                " values (one per class), got ", o.class_balance().size());
    p = torch::tensor(o.class_balance(), kF64);
    TORCH_CHECK((p > 0).all().item<bool>(), "class balance: every class needs a positive share");
    p = p / p.sum();
  }
  p = p.clamp_min(1e-6);
  p = p / p.sum();
  const auto l = oh.reshape({n, d});
  const auto big_o = torch::mm(l.t(), l) / n;
  const auto rate = torch::diagonal(big_o);
  const auto fn = torch::arange(d) / k;
  const auto mask = fn.unsqueeze(1) != fn.unsqueeze(0);  // not a function's own block

  auto mu0 = torch::zeros({d, k}, kF64);
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t c = 0; c < k; ++c) {
      mu0[j * k + c][c] = std::min(1.0, rate[j * k + c].item<double>() * o.prec_init() / p[c].item<double>());
    }
  }
  auto mu = mu0.clone().requires_grad_(true);
  torch::optim::Adam opt({mu}, torch::optim::AdamOptions(o.lr()));
  const auto pm = torch::diag(p);
  for (int64_t s = 0; s < o.steps(); ++s) {
    opt.zero_grad();
    const auto fit = big_o - torch::mm(torch::mm(mu, pm), mu.t());
    auto loss = fit.masked_select(mask).pow(2).sum() + (torch::mv(mu, p) - rate).pow(2).sum();
    if (o.l2() > 0) loss = loss + o.l2() * (mu - mu0).pow(2).sum();
    loss.backward();
    opt.step();
  }
  auto est = mu.detach().clamp(1e-6, 1.0);

  // The columns in the order that makes the functions most often right: a permutation of the
  // classes fits O equally well, and the true one is where the majority is better than chance.
  const auto score = est.reshape({m, k, k}).sum(0);  // [vote, class]
  std::vector<int64_t> perm(k), best;
  std::iota(perm.begin(), perm.end(), 0);
  auto total = [&](const std::vector<int64_t>& s) {
    double t = 0;
    for (int64_t c = 0; c < k; ++c) t += score[c][s[c]].item<double>();
    return t;
  };
  if (k <= 8) {
    double top = -1;
    do {
      const double t = total(perm);
      if (t > top) top = t, best = perm;
    } while (std::next_permutation(perm.begin(), perm.end()));
  } else {  // greedy: the largest remaining entry first
    best.assign(k, -1);
    auto s = score.clone();
    for (int64_t it = 0; it < k; ++it) {
      const int64_t flat = s.argmax().item<int64_t>(), row = flat / k, col = flat % k;
      best[row] = col;
      s.index_put_({row}, -1e300);
      s.index_put_({torch::indexing::Slice(), col}, -1e300);
    }
  }
  const auto order = torch::tensor(best, torch::kLong);
  est = est.index_select(1, order);
  p = p.index_select(0, order);

  LabelModelResult r;
  const auto logits = p.log().unsqueeze(0) + torch::mm(l, est.log());
  r.probabilities = torch::softmax(logits, 1);
  const auto e3 = est.reshape({m, k, k});  // [function, vote, class]
  const auto right = (torch::diagonal(e3, 0, 1, 2) * p).sum(1), votes_rate = (e3.sum(1) * p).sum(1);
  r.accuracy = right / votes_rate.clamp_min(1e-12);
  r.coverage = coverage_of(votes);
  r.class_balance = p;
  r.iterations = o.steps();
  return r;
}

std::vector<int64_t> duplicate_functions(const torch::Tensor& votes, double agreement) {
  TORCH_CHECK(agreement > 0 && agreement <= 1, "duplicate_functions: agreement must be in (0, 1], got ", agreement);
  const auto v = votes.to(torch::kLong);
  const int64_t m = v.size(1);
  std::vector<int64_t> rep(m);
  std::iota(rep.begin(), rep.end(), 0);
  for (int64_t j = 1; j < m; ++j) {
    for (int64_t i = 0; i < j; ++i) {
      if (rep[i] != i) continue;
      const auto a = v.select(1, i), b = v.select(1, j);
      const auto either = (a >= 0) | (b >= 0);
      const double covered = either.sum().item<double>();
      if (covered == 0) continue;
      const double same = ((a == b) & either).sum().item<double>();
      if (same / covered >= agreement) {
        rep[j] = i;
        break;
      }
    }
  }
  return rep;
}

const std::vector<std::string>& label_model_names() {
  static const std::vector<std::string> names{"majority_vote", "dawid_skene", "matrix_completion"};
  return names;
}

LabelModelResult fit_label_model(const std::string& name, const torch::Tensor& votes, int64_t k,
                                 const std::vector<double>& class_balance) {
  const auto& names = label_model_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    TORCH_CHECK(false, "unknown label model '", name, "' (known: ", known, ")");
  }
  check_votes(votes, k);
  const auto rep = duplicate_functions(votes);
  std::vector<int64_t> keep;
  for (int64_t j = 0; j < static_cast<int64_t>(rep.size()); ++j) {
    if (rep[j] == j) keep.push_back(j);
  }
  const auto kept = votes.index_select(1, torch::tensor(keep, torch::kLong));
  LabelModelResult r = name == "majority_vote" ? majority_vote(kept, k)
                       : name == "dawid_skene" ? dawid_skene(kept, k)
                                               : matrix_completion(kept, k, MatrixCompletionOptions().class_balance(class_balance));
  // Every function gets its representative's accuracy; coverage is its own.
  std::vector<int64_t> column(rep.size());
  for (size_t j = 0; j < rep.size(); ++j) {
    column[j] = std::find(keep.begin(), keep.end(), rep[j]) - keep.begin();
  }
  r.accuracy = r.accuracy.index_select(0, torch::tensor(column, torch::kLong));
  r.coverage = coverage_of(votes);
  return r;
}

SyntheticVotes synthetic_votes(int64_t n, const std::vector<double>& accuracy, const std::vector<double>& coverage,
                               const std::vector<double>& class_balance, uint64_t seed) {
  TORCH_CHECK(accuracy.size() == coverage.size() && !accuracy.empty(), "synthetic_votes: ", accuracy.size(),
              " accuracies for ", coverage.size(), " coverages");
  const int64_t k = static_cast<int64_t>(class_balance.size()), m = static_cast<int64_t>(accuracy.size());
  TORCH_CHECK(k >= 2, "synthetic_votes: need at least 2 classes");
  auto gen = make_generator(seed);
  const auto labels = torch::multinomial(torch::tensor(class_balance, kF64), n, true, gen);
  auto votes = torch::full({n, m}, -1, torch::kLong);
  for (int64_t j = 0; j < m; ++j) {
    const auto covered = torch::rand({n}, gen, kF64) < coverage[j];
    const auto right = torch::rand({n}, gen, kF64) < accuracy[j];
    const auto wrong = (labels + torch::randint(1, k, {n}, gen, torch::kLong)) % k;
    votes.select(1, j).copy_(torch::where(covered, torch::where(right, labels, wrong), torch::full_like(labels, -1)));
  }
  return {votes, labels};
}

}  // namespace selfsup::weak
