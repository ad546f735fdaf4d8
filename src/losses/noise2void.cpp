#include "selfsup/losses/noise2void.h"

#include <vector>

namespace selfsup::functional {

BlindSpot blind_spot(const torch::Tensor& noisy, const BlindSpotOptions& o, torch::Generator& gen) {
  TORCH_CHECK(noisy.dim() == 4 && noisy.is_floating_point(), "blind_spot: expected float images [N, C, H, W], got ",
              noisy.sizes(), " of ", noisy.scalar_type());
  TORCH_CHECK(o.fraction() > 0 && o.fraction() <= 0.25, "blind_spot: fraction must be in (0, 0.25], got ",
              o.fraction());
  TORCH_CHECK(o.window() >= 3 && o.window() % 2 == 1, "blind_spot: window must be odd and >= 3, got ", o.window());
  const int64_t n = noisy.size(0), c = noisy.size(1), h = noisy.size(2), w = noisy.size(3), hw = h * w;
  TORCH_CHECK(hw >= 2, "blind_spot: images of ", h, "x", w, " have no second pixel to take a value from");
  const int64_t per_image = std::max<int64_t>(1, static_cast<int64_t>(o.fraction() * static_cast<double>(hw)));
  const int64_t r = o.window() / 2;

  std::vector<int64_t> dst, src;
  std::vector<int64_t> sources;
  std::vector<char> masked(hw);
  std::vector<int64_t> candidates;
  for (int64_t b = 0; b < n; ++b) {
    auto chosen = torch::randperm(hw, gen, torch::kInt64).slice(0, 0, per_image);
    chosen = std::get<0>(chosen.sort());
    const auto* p = chosen.data_ptr<int64_t>();
    std::fill(masked.begin(), masked.end(), 0);
    for (int64_t i = 0; i < per_image; ++i) masked[p[i]] = 1;
    const auto u = torch::rand({per_image}, gen, torch::kFloat64);
    const auto* up = u.data_ptr<double>();
    for (int64_t i = 0; i < per_image; ++i) {
      const int64_t y = p[i] / w, x = p[i] % w;
      candidates.clear();
      for (int64_t dy = -r; dy <= r; ++dy) {
        for (int64_t dx = -r; dx <= r; ++dx) {
          const int64_t yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w || masked[yy * w + xx]) continue;
          candidates.push_back(yy * w + xx);
        }
      }
      // Every pixel of the window masked (only in tiny images): this one is left unmasked.
      if (candidates.empty()) continue;
      const auto k = std::min<int64_t>(static_cast<int64_t>(up[i] * static_cast<double>(candidates.size())),
                                       static_cast<int64_t>(candidates.size()) - 1);
      dst.push_back(b * hw + p[i]);
      src.push_back(b * hw + candidates[k]);
      sources.push_back(candidates[k] / w);
      sources.push_back(candidates[k] % w);
    }
  }
  const auto m = static_cast<int64_t>(dst.size());
  const auto dst_t = torch::tensor(dst, torch::kInt64).to(noisy.device());
  const auto src_t = torch::tensor(src, torch::kInt64).to(noisy.device());
  // Pixels as rows [N*H*W, C], so one index moves every channel of a pixel.
  const auto rows = noisy.permute({0, 2, 3, 1}).reshape({n * hw, c});
  auto input_rows = rows.clone();
  input_rows.index_copy_(0, dst_t, rows.index_select(0, src_t));
  auto input = input_rows.view({n, h, w, c}).permute({0, 3, 1, 2}).contiguous();
  auto mask = torch::zeros({n * hw}, noisy.options().dtype(torch::kBool));
  mask.index_fill_(0, dst_t, true);
  return {input, mask.view({n, 1, h, w}), torch::tensor(sources, torch::kInt64).view({m, 2})};
}

torch::Tensor masked_mse(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& mask) {
  TORCH_CHECK(prediction.sizes() == target.sizes(), "masked_mse: prediction ", prediction.sizes(), " and target ",
              target.sizes(), " differ in shape");
  TORCH_CHECK(mask.scalar_type() == torch::kBool && mask.dim() == 4 && mask.size(1) == 1 &&
                  mask.size(0) == prediction.size(0) && mask.size(2) == prediction.size(2) &&
                  mask.size(3) == prediction.size(3),
              "masked_mse: mask must be bool [N, 1, H, W] matching the prediction ", prediction.sizes(), ", got ",
              mask.sizes(), " of ", mask.scalar_type());
  const auto m = mask.to(prediction.scalar_type());
  const auto count = m.sum() * prediction.size(1);
  TORCH_CHECK(count.item<double>() > 0, "masked_mse: the mask selects no pixel");
  return ((prediction - target).pow(2) * m).sum() / count;
}

}  // namespace selfsup::functional
