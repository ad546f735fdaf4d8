#include "selfsup/data/npy.h"

#include <torch/torch.h>

#include <cstring>
#include <regex>

namespace selfsup::data {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

const std::vector<std::pair<torch::ScalarType, std::string>>& descrs() {
  static const std::vector<std::pair<torch::ScalarType, std::string>> d{
      {torch::kFloat32, "<f4"}, {torch::kFloat64, "<f8"}, {torch::kInt64, "<i8"},
      {torch::kInt32, "<i4"},   {torch::kUInt8, "|u1"}};
  return d;
}

}  // namespace

std::string npy_bytes(const torch::Tensor& t) {
  TORCH_CHECK(t.defined(), "npy_bytes: undefined tensor");
  std::string descr;
  for (const auto& [type, d] : descrs()) {
    if (type == t.scalar_type()) descr = d;
  }
  TORCH_CHECK(!descr.empty(), "npy_bytes: dtype ", t.scalar_type(), " is not one of float32, float64, int64, int32, uint8");
  const auto c = t.detach().to(torch::kCPU).contiguous();
  std::string shape = "(";
  for (int64_t i = 0; i < c.dim(); ++i) shape += std::to_string(c.size(i)) + (c.dim() == 1 || i + 1 < c.dim() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic, version, header length and header, space-padded and ending in a newline, fill a
  // multiple of 64 bytes, as numpy writes them.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  return out;
}

torch::Tensor parse_npy(const std::string& bytes, const std::string& what) {
  TORCH_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, std::string(kMagic, 6)) == 0, what, ": not a .npy file");
  TORCH_CHECK(bytes[6] == 1, what, ": .npy version ", static_cast<int>(bytes[6]), " (this reader takes 1.0)");
  const size_t len = static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
  TORCH_CHECK(bytes.size() >= 10 + len, what, ": the .npy header is truncated");
  const std::string header = bytes.substr(10, len);
  std::smatch m;
  TORCH_CHECK(std::regex_search(header, m, std::regex("'descr': *'([<|>][a-z][0-9])'")), what, ": no descr in the header");
  const std::string descr = m[1];
  TORCH_CHECK(header.find("'fortran_order': False") != std::string::npos, what, ": Fortran order is not supported");
  TORCH_CHECK(std::regex_search(header, m, std::regex("'shape': *\\(([0-9, ]*)\\)")), what, ": no shape in the header");
  std::vector<int64_t> shape;
  const std::string dims = m[1];
  const std::regex number("[0-9]+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    shape.push_back(std::stoll(it->str()));
  }
  torch::ScalarType type = torch::kFloat32;
  bool known = false;
  for (const auto& [t, d] : descrs()) {
    if (d == descr) type = t, known = true;
  }
  TORCH_CHECK(known, what, ": dtype ", descr, " is not supported");
  auto out = torch::empty(shape, torch::TensorOptions().dtype(type));
  const size_t data = static_cast<size_t>(out.numel()) * out.element_size();
  TORCH_CHECK(bytes.size() == 10 + len + data, what, ": ", bytes.size() - 10 - len, " bytes of data for shape ",
              out.sizes(), " (", data, " expected): a truncated file");
  if (data > 0) std::memcpy(out.data_ptr(), bytes.data() + 10 + len, data);
  return out;
}

}  // namespace selfsup::data
