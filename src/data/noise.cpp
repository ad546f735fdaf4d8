#include "selfsup/data/noise.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace selfsup::data {

NoiseType noise_type_from_name(const std::string& name) {
  if (name == "gaussian") return NoiseType::kGaussian;
  if (name == "poisson") return NoiseType::kPoisson;
  TORCH_CHECK(false, "noise.type must be gaussian or poisson, got '", name, "'");
}

void NoiseOptions::check() const {
  if (type() == NoiseType::kGaussian) {
    TORCH_CHECK(std::isfinite(sigma_min()) && std::isfinite(sigma_max()) && sigma_min() >= 0 &&
                    sigma_max() >= sigma_min(),
                "noise.sigma must be a number >= 0 or a range [min, max] with 0 <= min <= max, got ", sigma_min(),
                " to ", sigma_max());
  } else {
    TORCH_CHECK(std::isfinite(peak()) && peak() > 0, "noise.peak must be positive, got ", peak());
  }
}

NoiseOptions NoiseOptions::from_config(const Config& cfg) {
  NoiseOptions o;
  o.type(noise_type_from_name(cfg.get<std::string>("noise.type", "gaussian")));
  if (o.type() == NoiseType::kGaussian) {
    const auto node = cfg.node("noise.sigma");
    if (node.IsSequence()) {
      const auto r = cfg.get<std::vector<double>>("noise.sigma", {});
      TORCH_CHECK(r.size() == 2, "noise.sigma as a range must be [min, max], got ", r.size(), " numbers");
      o.sigma_min(r[0]).sigma_max(r[1]);
    } else {
      const double s = cfg.get<double>("noise.sigma", o.sigma_min());
      o.sigma_min(s).sigma_max(s);
    }
  } else {
    o.peak(cfg.get<double>("noise.peak", o.peak()));
  }
  o.check();
  return o;
}

std::string NoiseOptions::describe() const {
  std::ostringstream s;
  if (type() == NoiseType::kGaussian) {
    s << "gaussian sigma " << sigma_min();
    if (sigma_max() > sigma_min()) s << "-" << sigma_max();
  } else {
    s << "poisson peak " << peak();
  }
  return s.str();
}

torch::Tensor add_noise(const torch::Tensor& clean, const NoiseOptions& o, torch::Generator& gen) {
  TORCH_CHECK(clean.dim() == 4 && clean.is_floating_point(), "add_noise: expected float images [N, C, H, W], got ",
              clean.sizes(), " of ", clean.scalar_type());
  o.check();
  const auto f = clean.options();
  if (o.type() == NoiseType::kPoisson) {
    const auto rate = (clean.clamp(0, 1) * o.peak()).to(torch::kFloat64);
    auto counts = torch::poisson(rate, gen);
    return (counts / o.peak()).to(clean.scalar_type());
  }
  auto sigma = torch::full({clean.size(0), 1, 1, 1}, o.sigma_min() / 255.0, f);
  if (o.sigma_max() > o.sigma_min()) {
    sigma = torch::empty({clean.size(0), 1, 1, 1}, f).uniform_(o.sigma_min() / 255.0, o.sigma_max() / 255.0, gen);
  }
  return clean + torch::randn(clean.sizes(), gen, f) * sigma;
}

}  // namespace selfsup::data
