#pragma once
// NumPy's .npy format (version 1.0): what numpy.load reads, for features and labels handed to
// Python.
#include <torch/types.h>

#include <string>

namespace selfsup::data {

/// The bytes of a .npy file holding `t` (float32, float64, int64, int32 or uint8, any shape),
/// C order, little-endian.
std::string npy_bytes(const torch::Tensor& t);

/// The tensor in a .npy file's bytes (the dtypes npy_bytes writes, C order, little-endian);
/// `what` names the source in the error of a damaged or unsupported file.
torch::Tensor parse_npy(const std::string& bytes, const std::string& what);

}  // namespace selfsup::data
