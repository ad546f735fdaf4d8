#include "selfsup/data/image_folder.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>

// The one translation unit that compiles stb_image, limited to the formats a folder may hold
// (is_image_name): users' files reach no other decoder.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#include <stb/stb_image.h>

namespace fs = std::filesystem;

namespace selfsup::data {
namespace {

struct Entry {
  std::string path;
  int64_t label;
  int width, height, components;
};

struct Folder {
  std::string dir;
  std::vector<Entry> entries;
};

using StbPixels = std::unique_ptr<stbi_uc, decltype(&stbi_image_free)>;

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

// The stb_image that Debian ships writes past a 257-entry table when a JPEG's Huffman table
// (DHT segment) declares more than 256 codes; later versions refuse such a table, and so does
// this walk before stb_image sees the file. It follows stb_image's reading exactly: tables of a
// DHT or DQT segment are read while the segment's length says more are left, so they may run past
// the segment, and the next marker is looked for where they ended; bytes past the end read as 0.
// Other damage is left to stb_image.
void check_jpeg_tables(const std::vector<uint8_t>& b, const std::string& path) {
  // stb_image takes a file for a JPEG when it starts with 0xFF, any more 0xFF bytes, then 0xD8.
  size_t i = 0;
  while (i < b.size() && b[i] == 0xFF) ++i;
  if (i == 0 || i >= b.size() || b[i] != 0xD8) return;
  ++i;
  auto at = [&](size_t k) -> size_t { return k < b.size() ? b[k] : 0; };
  while (i + 1 < b.size()) {
    if (b[i] != 0xFF) {  // entropy-coded data, or bytes stb_image skips looking for a marker
      ++i;
      continue;
    }
    const uint8_t m = b[i + 1];
    if (m == 0x00 || m == 0xFF || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {  // stuffing, fill, restart
      i += (m == 0xFF) ? 1 : 2;
      continue;
    }
    if (m == 0xD9 || i + 3 >= b.size()) return;  // end of image, or a truncated header stb reports
    const size_t len = (at(i + 2) << 8) | at(i + 3);
    if (m != 0xC4 && m != 0xDB) {
      i += 2 + std::max<size_t>(len, 2);
      continue;
    }
    int64_t left = static_cast<int64_t>(len) - 2;
    size_t t = i + 4;
    while (left > 0 && t < b.size()) {
      size_t table = 0;
      if (m == 0xC4) {
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += at(t + k);
        TORCH_CHECK(codes <= 256, path, ": cannot decode image (corrupt JPEG: a Huffman table declares ", codes,
                    " codes, at most 256 are possible)");
        table = 17 + codes;
      } else {
        table = (at(t) >> 4) != 0 ? 129 : 65;  // 16-bit or 8-bit quantisation table
      }
      t += table;
      left -= static_cast<int64_t>(table);
    }
    i = t;
  }
}

// A file's bytes, checked where stb_image is not careful enough.
std::vector<uint8_t> read_image_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in.good(), path, ": cannot open file");
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TORCH_CHECK(b.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), path, ": ", b.size(),
              " bytes is too large for one image");
  check_jpeg_tables(b, path);
  return b;
}

bool image_info(const std::string& path, int* w, int* h, int* comp) {
  const auto b = read_image_file(path);
  if (!stbi_info_from_memory(b.data(), static_cast<int>(b.size()), w, h, comp)) return false;
  // A BMP stored top-down has a negative height in its header, which stb_image's info passes on
  // and its decoder turns positive.
  *w = std::abs(*w), *h = std::abs(*h);
  // The header alone (a few bytes of a BMP, which stb_image pads with zeros) may claim any size:
  // bounded before anything is allocated for it. 256 MB decoded is a 9000 x 9000 RGB photograph,
  // far beyond a training image, and an eighth of what stb_image can decode at all.
  constexpr int64_t kMaxImageBytes = int64_t{1} << 28;
  TORCH_CHECK(int64_t{*w} * *h * std::max(*comp, 3) <= kMaxImageBytes, path, ": its header claims ", *w, "x", *h,
              " pixels, more than 256 MB decoded: resize it first");
  return true;
}

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

bool is_dir(const std::string& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// Sorted entries of `dir` that pass `keep`, so that labels and order do not depend on the file system.
template <typename Pred>
std::vector<fs::path> sorted_children(const std::string& dir, Pred keep) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!hidden(e.path()) && keep(e)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Lists every image with its label and header (size, channels) without decoding pixels.
Folder scan(const std::string& dir, std::vector<std::string>& classes) {
  TORCH_CHECK(is_dir(dir), dir, ": folder not found");
  const auto class_dirs = sorted_children(dir, [](const fs::directory_entry& e) { return e.is_directory(); });
  TORCH_CHECK(!class_dirs.empty(), dir, ": has no class folders (expected ", dir, "/<class>/*.png)");
  const bool fixed = !classes.empty();
  Folder f{dir, {}};
  for (const auto& cd : class_dirs) {
    const std::string cls = cd.filename().string();
    int64_t label;
    if (fixed) {
      const auto it = std::find(classes.begin(), classes.end(), cls);
      TORCH_CHECK(it != classes.end(), cd.string(), ": class folder '", cls,
                  "' is not one of the training classes");
      label = it - classes.begin();
    } else {
      label = static_cast<int64_t>(classes.size());
      classes.push_back(cls);
    }
    const auto files = sorted_children(cd.string(), [](const fs::directory_entry& e) {
      return e.is_regular_file() && is_image_name(e.path());
    });
    TORCH_CHECK(!files.empty(), cd.string(), ": class folder has no images (.png, .jpg, .jpeg, .bmp)");
    for (const auto& p : files) {
      Entry e{p.string(), label, 0, 0, 0};
      TORCH_CHECK(image_info(e.path, &e.width, &e.height, &e.components), e.path,
                  ": cannot decode image (", stb_reason(), ")");
      f.entries.push_back(std::move(e));
    }
  }
  return f;
}

void check_same_size(const std::vector<const Folder*>& folders) {
  const Entry* first = nullptr;
  for (const auto* f : folders) {
    for (const auto& e : f->entries) {
      if (!first) first = &e;
      TORCH_CHECK(e.width == first->width && e.height == first->height, e.path, ": image is ",
                  e.width, "x", e.height, " but ", first->path, " is ", first->width, "x",
                  first->height, "; all images must have the same size");
    }
  }
}

// Grey (with or without alpha) stays one channel only if every image is grey.
int64_t common_channels(const std::vector<const Folder*>& folders) {
  for (const auto* f : folders) {
    for (const auto& e : f->entries) {
      if (e.components > 2) return 3;
    }
  }
  return 1;
}

// Decodes pixels as HWC and stores them as CHW.
void decode_into(const std::string& path, int64_t channels, int width, int height, uint8_t* out) {
  int w = 0, h = 0, comp = 0;
  const auto b = read_image_file(path);
  StbPixels px(stbi_load_from_memory(b.data(), static_cast<int>(b.size()), &w, &h, &comp, static_cast<int>(channels)),
               &stbi_image_free);
  TORCH_CHECK(px, path, ": cannot decode image (", stb_reason(), ")");
  TORCH_CHECK(w == width && h == height, path, ": decoded size ", w, "x", h,
              " differs from its header's ", width, "x", height);
  const int64_t plane = int64_t{w} * h;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t i = 0; i < plane; ++i) out[c * plane + i] = px.get()[i * channels + c];
  }
}

Dataset decode(const Folder& f, int64_t channels, int64_t height, int64_t width,
               const std::vector<std::string>& classes, const std::string& name) {
  const int64_t n = static_cast<int64_t>(f.entries.size());
  // Decoded whole into memory: refuse a folder that would take more than half of it, up front.
  const double bytes = static_cast<double>(n) * channels * height * width;
  const double ram = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  TORCH_CHECK(ram <= 0 || bytes <= 0.5 * ram, f.dir, ": ", n, " images of ", channels, "x", height, "x", width,
              " take ", bytes / (1 << 30), " GiB decoded, more than half of this machine's ", ram / (1 << 30),
              " GiB of memory");
  Dataset d;
  d.images = torch::empty({n, channels, height, width}, torch::kUInt8);
  d.labels = torch::empty({n}, torch::kLong);
  auto* img = d.images.data_ptr<uint8_t>();
  auto* lab = d.labels.data_ptr<int64_t>();
  const int64_t stride = channels * height * width;
  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const auto& e = f.entries[i];
      decode_into(e.path, channels, e.width, e.height, img + i * stride);
      lab[i] = e.label;
    }
  });
  d.classes = classes;
  d.name = name;
  return d;
}

Dataset empty_like(const Dataset& d) {
  Dataset e;
  e.images = torch::empty({0, d.channels(), d.height(), d.width()}, torch::kUInt8);
  e.labels = torch::empty({0}, torch::kLong);
  e.classes = d.classes;
  e.name = d.name;
  return e;
}

}  // namespace

torch::Tensor load_image(const std::string& path, int64_t channels) {
  TORCH_CHECK(channels == 0 || channels == 1 || channels == 3, "load_image: channels must be 0, 1 or 3, got ",
              channels);
  TORCH_CHECK(fs::exists(path), path, ": file not found");
  int w = 0, h = 0, comp = 0;
  TORCH_CHECK(image_info(path, &w, &h, &comp), path, ": cannot decode image (", stb_reason(), ")");
  if (channels == 0) channels = comp <= 2 ? 1 : 3;
  auto out = torch::empty({channels, h, w}, torch::kUInt8);
  decode_into(path, channels, w, h, out.data_ptr<uint8_t>());
  return out;
}

Dataset load_image_folder_split(const std::string& dir, std::vector<std::string> classes,
                                std::string name) {
  const Folder f = scan(dir, classes);
  check_same_size({&f});
  const auto& first = f.entries.front();
  return decode(f, common_channels({&f}), first.height, first.width, classes, name);
}

DataSplits load_image_folder(const std::string& root) {
  TORCH_CHECK(is_dir(root), root, ": folder not found");
  const std::string train_dir = root + "/train", test_dir = root + "/test";
  const bool has_train = is_dir(train_dir), has_test = is_dir(test_dir);
  TORCH_CHECK(has_train || !has_test, root, ": has a test/ folder but no train/ folder");
  const std::string name = "image-folder";

  std::vector<std::string> classes;
  const Folder train = scan(has_train ? train_dir : root, classes);
  Folder test;
  if (has_test) test = scan(test_dir, classes);
  // Both splits must agree on size and channels so that one model takes either.
  const std::vector<const Folder*> both = {&train, &test};
  check_same_size(both);
  const int64_t channels = common_channels(both);
  const auto& first = train.entries.front();

  DataSplits s;
  s.train = decode(train, channels, first.height, first.width, classes, name);
  s.test = has_test ? decode(test, channels, first.height, first.width, classes, name)
                    : empty_like(s.train);
  return s;
}

}  // namespace selfsup::data
