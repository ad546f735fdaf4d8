// PNG grids of images (stb_image_write; the only translation unit with its implementation).
#include "selfsup/augment/png.h"

#include <torch/torch.h>

#include <cstdio>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace selfsup::augment {

namespace {
void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}
}  // namespace

std::string encode_png_grid(const torch::Tensor& images, int64_t columns, int64_t scale) {
  TORCH_CHECK(images.defined() && images.dim() == 4 && images.size(0) > 0,
              "write_png_grid: expected images [N, C, H, W] with N > 0, got ",
              images.defined() ? images.sizes() : c10::IntArrayRef{});
  const int64_t n = images.size(0), c = images.size(1);
  TORCH_CHECK(c == 1 || c == 3, "write_png_grid: expected 1 or 3 channels, got ", c);
  TORCH_CHECK(columns >= 1, "write_png_grid: columns must be >= 1, got ", columns);
  TORCH_CHECK(scale >= 1 && scale <= 64, "write_png_grid: scale must be in [1, 64], got ", scale);
  TORCH_CHECK(images.scalar_type() == torch::kByte || images.is_floating_point(),
              "write_png_grid: expected uint8 or floating-point images, got ",
              images.scalar_type());
  torch::Tensor u8 = images.detach().to(torch::kCPU);
  if (u8.scalar_type() != torch::kByte) {
    u8 = u8.to(torch::kFloat).clamp(0, 1).mul_(255).round_().to(torch::kByte);
  }
  if (scale > 1) u8 = u8.repeat_interleave(scale, 2).repeat_interleave(scale, 3);
  const int64_t h = u8.size(2), w = u8.size(3), gap = 2;
  const int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  const int64_t height = gap + rows * (h + gap), width = gap + cols * (w + gap);
  TORCH_CHECK(height * width * c <= (int64_t{1} << 30), "write_png_grid: a ", height, "x", width,
              " grid is too large");
  torch::Tensor canvas = torch::full({height, width, c}, 255, torch::kByte);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / cols, k = i % cols;
    canvas.narrow(0, gap + r * (h + gap), h)
        .narrow(1, gap + k * (w + gap), w)
        .copy_(u8[i].permute({1, 2, 0}));
  }
  std::string png;
  const int ok = stbi_write_png_to_func(append_bytes, &png, static_cast<int>(width), static_cast<int>(height),
                                        static_cast<int>(c), canvas.data_ptr<uint8_t>(), static_cast<int>(width * c));
  TORCH_CHECK(ok != 0 && !png.empty(), "write_png_grid: the PNG encoder failed on a ", height, "x", width, " grid");
  return png;
}

void write_png_grid(const std::string& path, const torch::Tensor& images, int64_t columns, int64_t scale) {
  const std::string png = encode_png_grid(images, columns, scale);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  TORCH_CHECK(f != nullptr, "write_png_grid: cannot write '", path, "'");
  const bool written = std::fwrite(png.data(), 1, png.size(), f) == png.size();
  TORCH_CHECK(std::fclose(f) == 0 && written, "write_png_grid: cannot write '", path, "'");
}

}  // namespace selfsup::augment
