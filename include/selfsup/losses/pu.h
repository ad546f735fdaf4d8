#pragma once
// The risk estimators of positive-unlabeled learning: uPU (du Plessis et al. 2015) and nnPU
// (Kiryo et al. 2017). A binary classifier's scores g on labeled positives (p) and on unlabeled
// images (u, a sample of the data itself, a mix of positives and negatives), the class prior pi
// of the unlabeled data and a margin loss l give
//
//   R_p^+ = pi E_p[l(g)]                  positives classified as positive
//   R_n^- = E_u[l(-g)] - pi E_p[l(-g)]    negatives classified as negative, read off U minus P
//   uPU:  R = R_p^+ + R_n^-               unbiased, but a flexible model drives R_n^- below 0,
//                                         which the negative risk it estimates never is
//   nnPU: R = R_p^+ + max(-beta, R_n^-)   and on a batch where R_n^- < -beta, Algorithm 1 steps
//                                         along -gamma grad R_n^- instead, pushing R_n^- back up
//
// with l(z) = sigmoid(-z) (the papers' choice; bounded, so uPU's R_n^- stays >= -pi) or the
// logistic loss log(1 + exp(-z)). Both return the three terms and the surrogate to back-propagate:
// R itself, or -gamma R_n^- on nnPU's ascent branch, where R reads R_p^+ - beta (the reference
// code's objective and x_out). Means run over the rows of g_pos and g_unl.
#include <torch/torch.h>

#include <string>

namespace selfsup::losses {

enum class PuLoss { kSigmoid, kLogistic };

struct NnpuOptions {
  /// Lower bound -beta on the negative risk (0 in the paper); beta >= 0.
  TORCH_ARG(double, beta) = 0.0;
  /// Step size of the ascent on the negative risk when it falls below -beta (1 in the paper).
  TORCH_ARG(double, gamma) = 1.0;
  TORCH_ARG(PuLoss, loss) = PuLoss::kSigmoid;
};

struct PuRisk {
  torch::Tensor positive_risk;  ///< R_p^+, scalar
  torch::Tensor negative_risk;  ///< R_n^-, scalar (negative when the model overfits)
  torch::Tensor risk;           ///< uPU: R_p^+ + R_n^-; nnPU: R_p^+ + max(-beta, R_n^-)
  torch::Tensor surrogate;      ///< what is back-propagated: risk, or -gamma R_n^- on the ascent branch
  bool ascent = false;          ///< nnPU took the ascent branch
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::NnpuOptions;
using losses::PuLoss;
using losses::PuRisk;

/// "sigmoid" or "logistic"; anything else is an error naming `key`.
PuLoss pu_loss_from_name(const std::string& name, const std::string& key = "loss");
const char* pu_loss_name(PuLoss loss);

/// l(z) elementwise: sigmoid(-z) or log(1 + exp(-z)) (computed stably as softplus(-z)).
torch::Tensor pu_margin_loss(const torch::Tensor& z, PuLoss loss);

/// The unbiased risk of scores g_pos [Np] and g_unl [Nu] (1-D, floating-point, same device) at
/// the prior pi in (0, 1); surrogate == risk.
PuRisk upu_risk(const torch::Tensor& g_pos, const torch::Tensor& g_unl, double prior,
                PuLoss loss = PuLoss::kSigmoid);

/// The non-negative risk (Algorithm 1 of Kiryo et al.): as upu_risk while R_n^- >= -beta, else
/// the ascent branch.
PuRisk nnpu_risk(const torch::Tensor& g_pos, const torch::Tensor& g_unl, double prior,
                 const NnpuOptions& options = {});

}  // namespace selfsup::functional
