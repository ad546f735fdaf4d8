#pragma once
// An encoder's weights in the files PyTorch users pass around: a state dict (parameter and buffer
// names to tensors) as `torch.save` writes it, or as safetensors. The names are the module's own,
// which are by construction those of the equivalent PyTorch module: torchvision's for the ResNets
// (conv1, bn1, layer1.0.conv1, ..., downsample.0), the python/selfsup_nets.py definitions for the
// ConvNet and the ViT (timm's names: patch_embed.proj, blocks.0.attn.qkv, ...).
#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "selfsup/nets/backbone.h"

namespace selfsup::nets {

/// Names and tensors in the module's order (parameters, then buffers, as PyTorch lists them).
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

/// The parameters and buffers of `module` that are defined, detached, on the CPU, contiguous.
StateDict state_dict(const torch::nn::Module& module);

/// The bytes of `torch.save(state_dict)`: a zip archive that Python's torch.load reads as a dict
/// of tensors.
std::vector<char> torch_file_bytes(const StateDict& state);

/// The bytes of a safetensors file (8-byte little-endian header length, the JSON header, the
/// data): float32 / float64 / bfloat16 / int64 / int32 / uint8 / bool tensors; `metadata` goes
/// into the header's "__metadata__".
std::string safetensors_bytes(const StateDict& state, const std::map<std::string, std::string>& metadata = {});

/// Reads a state dict file: safetensors, or a zip archive of `torch.save(model.state_dict())`
/// (an OrderedDict or a dict of tensors). Throws one line naming the file and what is wrong with
/// it.
StateDict read_state_dict(const std::string& path);

/// Whether `path` starts like a state dict file (a safetensors header, or a torch.save zip archive
/// that is not a selfsup checkpoint) rather than a selfsup checkpoint.
bool is_state_dict_file(const std::string& path);

/// Copies `state` into `module`'s parameters and buffers: every one of them must be present with
/// its shape (the first missing or mismatched one is named in the error, after `what`); values
/// are converted to the module's dtype and device. Returns the names in `state` the module does
/// not have (a classifier's `fc.*`), which are left out.
std::vector<std::string> load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& what);

/// How to build the equivalent PyTorch module: {"module": "torchvision.models.resnet18" or
/// "selfsup_nets.ConvNet" / "selfsup_nets.ViT" / "selfsup_nets.resnet", "args": {...}} for
/// python/selfsup_nets.py's build(); throws for a backbone with no PyTorch twin (a thinned ResNet).
nlohmann::json pytorch_definition(const Backbone& backbone);

}  // namespace selfsup::nets
