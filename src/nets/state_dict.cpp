#include "selfsup/nets/state_dict.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/serialize.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "selfsup/nets/convnet.h"
#include "selfsup/nets/resnet.h"
#include "selfsup/nets/vit.h"
#include "torch_unpickle.h"

namespace selfsup::nets {

namespace {

// safetensors' names of the dtypes it stores, and back.
const std::vector<std::pair<torch::ScalarType, std::string>>& dtype_codes() {
  static const std::vector<std::pair<torch::ScalarType, std::string>> codes{
      {torch::kFloat32, "F32"}, {torch::kFloat64, "F64"}, {torch::kBFloat16, "BF16"}, {torch::kFloat16, "F16"},
      {torch::kInt64, "I64"},   {torch::kInt32, "I32"},   {torch::kUInt8, "U8"},      {torch::kBool, "BOOL"}};
  return codes;
}

std::string dtype_code(torch::ScalarType t) {
  for (const auto& [type, code] : dtype_codes()) {
    if (type == t) return code;
  }
  TORCH_CHECK(false, "safetensors: no code for dtype ", t);
  return {};
}

bool little_endian() {
  const uint16_t one = 1;
  uint8_t first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in, path, ": cannot open the file");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool is_zip(const std::vector<char>& b) { return b.size() >= 4 && std::memcmp(b.data(), "PK\x03\x04", 4) == 0; }

// The header length a safetensors file starts with, or 0 when the bytes cannot be one.
uint64_t safetensors_header_size(const std::vector<char>& b) {
  if (b.size() < 10) return 0;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
  return n >= 2 && n <= b.size() - 8 && b[8] == '{' ? n : 0;
}

StateDict read_safetensors(const std::vector<char>& b, const std::string& path) {
  TORCH_CHECK(little_endian(), path, ": safetensors data is little-endian and this machine is not");
  const uint64_t n = safetensors_header_size(b);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, path, ": the safetensors header is not valid JSON (", e.what(), ")");
  }
  TORCH_CHECK(header.is_object(), path, ": the safetensors header is not a JSON object");
  const uint64_t data_size = b.size() - 8 - n;
  const char* data = b.data() + 8 + n;
  StateDict out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    TORCH_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
                    entry.contains("data_offsets") && entry["data_offsets"].size() == 2,
                path, ": tensor '", name, "' lacks dtype, shape or data_offsets");
    const auto code = entry["dtype"].get<std::string>();
    torch::ScalarType type = torch::kFloat32;
    bool known = false;
    for (const auto& [t, c] : dtype_codes()) {
      if (c == code) type = t, known = true;
    }
    TORCH_CHECK(known, path, ": tensor '", name, "' has dtype ", code, ", which this reader does not take");
    std::vector<int64_t> shape;
    int64_t numel = 1;
    for (const auto& s : entry["shape"]) {
      const auto d = s.get<int64_t>();
      TORCH_CHECK(d >= 0, path, ": tensor '", name, "' has a negative dimension");
      shape.push_back(d);
      numel *= d;
    }
    const auto begin = entry["data_offsets"][0].get<uint64_t>(), end = entry["data_offsets"][1].get<uint64_t>();
    const auto bytes = static_cast<uint64_t>(numel) * c10::elementSize(type);
    TORCH_CHECK(begin <= end && end <= data_size && end - begin == bytes, path, ": tensor '", name,
                "' has data_offsets [", begin, ", ", end, "] for ", bytes, " bytes of ", data_size,
                " (a truncated or damaged file)");
    auto t = torch::empty(shape, torch::TensorOptions().dtype(type));
    if (bytes > 0) std::memcpy(t.data_ptr(), data + begin, bytes);
    out.emplace_back(name, t);
  }
  return out;
}

// A selfsup checkpoint is a TorchScript archive (torch::serialize): it has constants.pkl.
bool is_torchscript_archive(const std::string& path) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    return reader.hasRecord("constants.pkl");
  } catch (const c10::Error&) {
    return false;
  }
}

}  // namespace

StateDict state_dict(const torch::nn::Module& module) {
  StateDict out;
  for (const auto& group : {module.named_parameters(true), module.named_buffers(true)}) {
    for (const auto& kv : group) {
      if (kv.value().defined()) out.emplace_back(kv.key(), kv.value().detach().to(torch::kCPU).contiguous());
    }
  }
  return out;
}

std::vector<char> torch_file_bytes(const StateDict& state) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : state) dict.insert(name, t.detach().to(torch::kCPU).contiguous());
  return torch::pickle_save(c10::IValue(dict));
}

std::string safetensors_bytes(const StateDict& state, const std::map<std::string, std::string>& metadata) {
  TORCH_CHECK(little_endian(), "safetensors data is little-endian and this machine is not");
  nlohmann::json header = nlohmann::json::object();
  std::vector<torch::Tensor> tensors;
  uint64_t offset = 0;
  for (const auto& [name, t] : state) {
    TORCH_CHECK(name != "__metadata__" && !header.contains(name), "safetensors: the name '", name,
                "' is reserved or repeated");
    auto c = t.detach().to(torch::kCPU).contiguous();
    const auto bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", dtype_code(c.scalar_type())}, {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    tensors.push_back(c);
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  out += text;
  out.reserve(out.size() + offset);
  for (const auto& t : tensors) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

bool is_state_dict_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::vector<char> head(9);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (in.gcount() < 4) return false;
  head.resize(static_cast<size_t>(in.gcount()));
  if (is_zip(head)) return !is_torchscript_archive(path);
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  if (head.size() < 9 || head[8] != '{') return false;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(head[static_cast<size_t>(i)]);
  return n >= 2 && n <= size - 8;
}

StateDict read_state_dict(const std::string& path) {
  const auto b = read_bytes(path);
  TORCH_CHECK(!b.empty(), path, ": the file is empty");
  if (is_zip(b)) return detail::read_torch_zip(path);
  TORCH_CHECK(safetensors_header_size(b) > 0, path,
              ": neither a torch.save zip archive nor a safetensors file (or a truncated one)");
  return read_safetensors(b, path);
}

std::vector<std::string> load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& what) {
  std::map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, t] : state) by_name[name] = &t;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (const auto& group : {module.named_parameters(true), module.named_buffers(true)}) {
    for (const auto& kv : group) {
      auto target = kv.value();
      if (!target.defined()) continue;
      const auto it = by_name.find(kv.key());
      TORCH_CHECK(it != by_name.end(), what, ": no tensor '", kv.key(), "' (shape ", target.sizes(),
                  ") in the file, which this model needs");
      const auto& source = *it->second;
      TORCH_CHECK(source.sizes() == target.sizes(), what, ": tensor '", kv.key(), "' has shape ", source.sizes(),
                  " in the file and ", target.sizes(), " in this model");
      TORCH_CHECK(source.is_floating_point() == target.is_floating_point(), what, ": tensor '", kv.key(),
                  "' is ", source.scalar_type(), " in the file and ", target.scalar_type(), " in this model");
      target.copy_(source);
      used.insert(kv.key());
    }
  }
  std::vector<std::string> unused;
  for (const auto& [name, t] : state) {
    if (!used.count(name)) unused.push_back(name);
  }
  return unused;
}

nlohmann::json pytorch_definition(const Backbone& backbone) {
  if (const auto* c = dynamic_cast<const ConvNetImpl*>(backbone.get())) {
    const auto& o = c->options;
    return {{"module", "selfsup_nets.ConvNet"},
            {"args", {{"in_channels", o.in_channels()}, {"channels", o.channels()},
                      {"blocks_per_stage", o.blocks_per_stage()}}}};
  }
  if (const auto* v = dynamic_cast<const ViTImpl*>(backbone.get())) {
    const auto& o = v->options;
    return {{"module", "selfsup_nets.ViT"},
            {"args", {{"in_channels", o.in_channels()}, {"image_size", o.image_size()}, {"patch_size", o.patch_size()},
                      {"dim", o.dim()}, {"depth", o.depth()}, {"heads", o.heads()}, {"mlp_ratio", o.mlp_ratio()},
                      {"qkv_bias", o.qkv_bias()}, {"pool", o.pool()}}}};
  }
  if (const auto* r = dynamic_cast<const ResNetImpl*>(backbone.get())) {
    const auto& o = r->options;
    TORCH_CHECK(o.mid_widths().empty(), "a thinned ResNet (model.mid_widths) has no PyTorch twin: torchvision's "
                "blocks are as wide inside as outside");
    TORCH_CHECK(o.width() == 1.0, "a ResNet of model.width ", o.width(), " has no torchvision twin (its blocks "
                "are 64 channels wide at the first stage)");
    const bool plain = o.depth() == 18 && o.in_channels() == 3 && !o.cifar_stem();
    if (plain) return {{"module", "torchvision.models.resnet18"}, {"args", nlohmann::json::object()}};
    return {{"module", "selfsup_nets.resnet"},
            {"args", {{"depth", o.depth()}, {"in_channels", o.in_channels()}, {"cifar_stem", o.cifar_stem()}}}};
  }
  TORCH_CHECK(false, "no PyTorch definition for the backbone ", backbone->name());
  return {};
}

}  // namespace selfsup::nets
