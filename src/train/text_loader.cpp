#include "selfsup/train/text_loader.h"

#include "selfsup/core/runtime.h"

namespace selfsup::train {

TextLoader::TextLoader(std::vector<std::vector<std::vector<int64_t>>> texts, LoaderOptions options, torch::Device device)
    : texts_(std::move(texts)), options_(std::move(options)), device_(device) {
  TORCH_CHECK(texts_.size() == 1 || texts_.size() == 3, "TextLoader: expected 1 or 3 sentence lists, got ",
              texts_.size());
  rows_ = static_cast<int64_t>(texts_[0].size());
  for (const auto& t : texts_) {
    TORCH_CHECK(static_cast<int64_t>(t.size()) == rows_, "TextLoader: the sentence lists differ in length (", rows_,
                " and ", t.size(), ")");
    for (const auto& s : t) TORCH_CHECK(s.size() >= 2, "TextLoader: a sentence without <s> and </s>");
  }
  TORCH_CHECK(options_.batch_size() >= 1 && options_.batch_size() <= rows_, "train.batch_size ",
              options_.batch_size(), " must be in [1, ", rows_, "] (the sentences)");
  TORCH_CHECK(options_.batch_size() % options_.world_size() == 0, "train.batch_size ", options_.batch_size(),
              " must be divisible by the ", options_.world_size(), " processes");
}

int64_t TextLoader::steps_per_epoch() const { return rows_ / options_.batch_size(); }

methods::Batch TextLoader::get(int64_t step) {
  const int64_t spe = steps_per_epoch(), b = options_.batch_size();
  const int64_t epoch = step / spe, pos = step % spe;
  auto gen = make_generator(derive_seed(options_.seed(), "order") + static_cast<uint64_t>(epoch));
  const auto order = options_.shuffle() ? torch::randperm(rows_, gen, torch::kLong) : torch::arange(rows_, torch::kLong);
  const int64_t per_rank = b / options_.world_size(), from = pos * b + options_.rank() * per_rank;
  const auto* o = order.data_ptr<int64_t>();
  methods::Batch batch;
  batch.indices = order.slice(0, from, from + per_rank).clone().to(device_);
  for (const auto& list : texts_) {
    size_t longest = 0;
    for (int64_t i = 0; i < per_rank; ++i) longest = std::max(longest, list[static_cast<size_t>(o[from + i])].size());
    auto ids = torch::zeros({per_rank, static_cast<int64_t>(longest)}, torch::kLong);
    auto mask = torch::zeros({per_rank, static_cast<int64_t>(longest)}, torch::kBool);
    auto ia = ids.accessor<int64_t, 2>();
    auto ma = mask.accessor<bool, 2>();
    for (int64_t i = 0; i < per_rank; ++i) {
      const auto& s = list[static_cast<size_t>(o[from + i])];
      for (size_t j = 0; j < s.size(); ++j) {
        ia[i][static_cast<int64_t>(j)] = s[j];
        ma[i][static_cast<int64_t>(j)] = true;
      }
    }
    batch.token_ids.push_back(ids.to(device_));
    batch.token_masks.push_back(mask.to(device_));
  }
  return batch;
}

}  // namespace selfsup::train
