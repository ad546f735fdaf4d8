#include "selfsup/eval/reconstruct.h"

#include <algorithm>
#include <vector>

#include "selfsup/augment/png.h"
#include "selfsup/core/runtime.h"

namespace selfsup::eval {

data::Dataset picture_images(const data::Dataset& test, int64_t count) {
  TORCH_CHECK(count > 0, "picture_images: count must be positive, got ", count);
  TORCH_CHECK(test.size() > 0, "picture_images: the data set '", test.name, "' is empty");
  const auto labels = test.labels.to(torch::kCPU);
  const auto* l = labels.data_ptr<int64_t>();
  std::vector<int64_t> picked;
  std::vector<bool> seen(static_cast<size_t>(test.num_classes()), false), taken(static_cast<size_t>(test.size()), false);
  for (int64_t i = 0; i < test.size() && static_cast<int64_t>(picked.size()) < count; ++i) {
    if (!seen[static_cast<size_t>(l[i])]) {
      seen[static_cast<size_t>(l[i])] = true;
      taken[static_cast<size_t>(i)] = true;
      picked.push_back(i);
    }
  }
  for (int64_t i = 0; i < test.size() && static_cast<int64_t>(picked.size()) < count; ++i) {
    if (!taken[static_cast<size_t>(i)]) picked.push_back(i);
  }
  // The class order, not the order found in the file.
  std::stable_sort(picked.begin(), picked.end(), [&](int64_t a, int64_t b) { return l[a] < l[b]; });
  return test.subset(torch::tensor(picked, torch::kLong));
}

torch::Tensor reconstruction_rows(methods::Reconstructs& model, const data::Dataset& images,
                                  const train::Normalization& norm, uint64_t seed, const torch::Device& device) {
  TORCH_CHECK(images.size() > 0, "reconstruction_rows: no images");
  const auto x01 = images.images.to(torch::kFloat).div(255.0);
  auto gen = make_generator(derive_seed(seed, "reconstruction-picture"));
  const auto noise = torch::rand({images.size(), model.num_patches()}, gen, torch::kFloat).to(device);
  const auto r = model.reconstruct(norm.apply(x01).to(device), noise);
  const auto mean = torch::tensor(norm.mean, torch::kFloat).view({1, -1, 1, 1});
  const auto std = torch::tensor(norm.std, torch::kFloat).view({1, -1, 1, 1});
  auto shown = [&](const torch::Tensor& t) { return (t.to(torch::kCPU, torch::kFloat) * std + mean).clamp(0, 1); };
  return torch::cat({x01, shown(r.masked), shown(r.reconstructed), shown(r.pasted)}, 0);
}

std::string reconstruction_png(methods::Reconstructs& model, const data::Dataset& images,
                               const train::Normalization& norm, uint64_t seed, const torch::Device& device) {
  return augment::encode_png_grid(reconstruction_rows(model, images, norm, seed, device), images.size(), 4);
}

}  // namespace selfsup::eval
