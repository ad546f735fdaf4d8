#pragma once
// Reading the state dict in a `torch.save` zip archive (private to src/nets; nets/state_dict.h is
// the interface).
//
// Why our own unpickler: LibTorch 1.13's (torch::pickle_load) reads a pickled OrderedDict, which
// is what `model.state_dict()` returns, as None and then fails. This one reads the subset of
// pickle protocol 2-5 that torch.save writes for a dict or OrderedDict of tensors: strings,
// numbers, tuples, dicts, the storages named by persistent ids (records data/<key> of the
// archive) and torch._utils._rebuild_tensor_v2; anything else is an error naming it.
#include <string>

#include "selfsup/nets/state_dict.h"

namespace selfsup::nets::detail {

/// The tensors of the dict pickled in the archive's data.pkl, in its order; errors start with
/// `path`.
StateDict read_torch_zip(const std::string& path);

}  // namespace selfsup::nets::detail
