#pragma once
// The library forms of `selfsup export` and `selfsup embed`: a checkpoint's encoder handed to
// PyTorch, as weights or as features.
#include <nlohmann/json.hpp>
#include <string>

namespace selfsup::run {

/// Writes the encoder of `checkpoint` to `path` atomically as a state dict under the names of
/// the equivalent PyTorch module (nets/state_dict.h): format "torch" (what torch.load reads) or
/// "safetensors" (its header's metadata carry the definition and the input normalisation). The
/// summary names the file, the tensors, the PyTorch definition (python/selfsup_nets.py builds it)
/// and the normalisation the encoder expects its input in.
nlohmann::json export_encoder(const std::string& checkpoint, const std::string& path, const std::string& format);

/// Writes the encoder's features of the images of `split` (test, train or val: the validation
/// split of eval --split val) into the folder `out_dir`: features.npy (float32 [N, D]),
/// labels.npy (int64 [N]) and embedding.json (this summary), each atomically.
nlohmann::json embed(const std::string& checkpoint, const std::string& split, const std::string& out_dir,
                     int threads = 0, const std::string& device = "");

}  // namespace selfsup::run
