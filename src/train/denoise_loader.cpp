#include "selfsup/train/denoise_loader.h"

#include "selfsup/core/runtime.h"

namespace selfsup::train {

DenoiseLoader::DenoiseLoader(std::vector<torch::Tensor> images, data::NoiseOptions noise,
                             methods::DenoiseTarget target, DenoiseLoaderOptions options, torch::Device device)
    : images_(std::move(images)), noise_(noise), target_(target), options_(options), device_(device) {
  const int64_t p = options_.patch_size();
  TORCH_CHECK(!images_.empty(), "a denoising run needs at least one training image");
  TORCH_CHECK(p >= 2, "train.patch_size must be >= 2, got ", p);
  TORCH_CHECK(options_.world_size() >= 1 && options_.batch_size() % options_.world_size() == 0,
              "train.batch_size (", options_.batch_size(), ") must be a multiple of the number of processes (",
              options_.world_size(), ")");
  std::vector<double> w;
  for (size_t i = 0; i < images_.size(); ++i) {
    const auto& im = images_[i];
    TORCH_CHECK(im.dim() == 3 && im.scalar_type() == torch::kFloat32, "training image ", i,
                ": expected float [C, H, W], got ", im.sizes(), " of ", im.scalar_type());
    TORCH_CHECK(im.size(0) == images_[0].size(0), "training image ", i, " has ", im.size(0), " channels, image 0 has ",
                images_[0].size(0));
    TORCH_CHECK(im.size(1) >= p && im.size(2) >= p, "training image ", i, " is ", im.size(1), "x", im.size(2),
                ", smaller than train.patch_size ", p);
    w.push_back(static_cast<double>((im.size(1) - p + 1) * (im.size(2) - p + 1)));
  }
  weights_ = torch::tensor(w, torch::kFloat64);
  noise_.check();
}

int64_t DenoiseLoader::steps_per_epoch() const {
  double pixels = 0;
  for (const auto& im : images_) pixels += static_cast<double>(im.size(1) * im.size(2));
  const double per_step = static_cast<double>(options_.patch_size() * options_.patch_size() * options_.batch_size());
  return std::max<int64_t>(1, static_cast<int64_t>(pixels / per_step));
}

methods::Batch DenoiseLoader::get(int64_t step) {
  auto gen = make_generator(options_.seed() + static_cast<uint64_t>(step));
  const int64_t b = options_.batch_size(), p = options_.patch_size();
  const auto which = torch::multinomial(weights_, b, /*replacement=*/true, gen);
  const auto u = torch::rand({b, 3}, gen, torch::kFloat64);
  const auto* wi = which.data_ptr<int64_t>();
  const auto* up = u.data_ptr<double>();
  std::vector<torch::Tensor> patches;
  patches.reserve(b);
  for (int64_t i = 0; i < b; ++i) {
    const auto& im = images_[wi[i]];
    const auto y = static_cast<int64_t>(up[3 * i] * static_cast<double>(im.size(1) - p + 1));
    const auto x = static_cast<int64_t>(up[3 * i + 1] * static_cast<double>(im.size(2) - p + 1));
    auto patch = im.slice(1, y, y + p).slice(2, x, x + p);
    // One of the 8 symmetries of the square: k quarter turns, then a mirror or not.
    const auto d = static_cast<int64_t>(up[3 * i + 2] * 8);
    if (d % 4) patch = torch::rot90(patch, d % 4, {1, 2});
    if (d >= 4) patch = patch.flip({2});
    patches.push_back(patch);
  }
  const auto clean = torch::stack(patches);
  methods::Batch batch;
  batch.views.push_back(data::add_noise(clean, noise_, gen));
  if (target_ == methods::DenoiseTarget::kClean) batch.views.push_back(clean);
  if (target_ == methods::DenoiseTarget::kNoisy) batch.views.push_back(data::add_noise(clean, noise_, gen));
  const int64_t share = b / options_.world_size(), first = options_.rank() * share;
  for (auto& v : batch.views) v = v.slice(0, first, first + share).contiguous().to(device_);
  batch.indices = which.slice(0, first, first + share).to(device_);
  batch.labels = torch::zeros({share}, torch::kLong).to(device_);
  return batch;
}

}  // namespace selfsup::train
