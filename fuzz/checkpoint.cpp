// Checkpoints: the zip archive LibTorch writes (damaged records, CRCs, sizes, zip64 fields), read
// the three ways a run reads one: its counters alone (--resume, eval), then into a model and an
// optimizer of a fixed structure, with extra tensors.
#include <torch/torch.h>

#include <cstdlib>

#include "fuzz_file.h"
#include "selfsup/train/checkpoint.h"

namespace {

struct Tiny : torch::nn::Module {
  Tiny() {
    fc = register_module("fc", torch::nn::Linear(4, 3));
    register_buffer("count", torch::zeros({1}, torch::kLong));
  }
  torch::nn::Linear fc{nullptr};
};

}  // namespace

// SELFSUP_FUZZ_WRITE_SEED=FILE fuzz_checkpoint: writes a valid checkpoint of the model above (the
// seed of the corpus) and exits, so the seed follows the format as it changes.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* out = std::getenv("SELFSUP_FUZZ_WRITE_SEED")) {
    torch::manual_seed(0);
    Tiny model;
    torch::optim::SGD opt(model.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    model.fc->forward(torch::ones({2, 4})).sum().backward();
    opt.step();
    selfsup::train::CheckpointState state;
    state.step = 1;
    state.total_steps = 10;
    state.config_yaml = "method: {name: simclr}\n";
    selfsup::train::save_checkpoint(out, model, &opt, state, {torch::arange(3.0)});
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool once = [] {
    torch::set_num_threads(1);
    return true;
  }();
  (void)once;
  const std::string path = selfsup::fuzz::write_input("last.ckpt", data, size);
  selfsup::fuzz::expect_clean([&] { selfsup::train::peek_checkpoint(path); });
  selfsup::fuzz::expect_clean([&] {
    Tiny model;
    torch::optim::SGD opt(model.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    std::vector<torch::Tensor> extra;
    selfsup::train::load_checkpoint(path, model, &opt, &extra);
  });
  return 0;
}
