// Pipelines, view sets, presets and their YAML form.
#include "selfsup/augment/pipeline.h"

#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <c10/util/StringUtil.h>

#include <algorithm>
#include <map>
#include <set>

#include "common.h"
#include "selfsup/augment/randaugment.h"
#include "selfsup/core/runtime.h"

namespace selfsup::augment {

using torch::Tensor;

namespace {

// ---- running ---------------------------------------------------------------------------------

// uint8 images become float in [0, 1]; `owned` tells whether the result is a fresh tensor.
Tensor to_float_batch(const Tensor& batch, bool& owned, const char* who) {
  TORCH_CHECK(batch.defined() && batch.dim() == 4, who, ": expected a batch [B, C, H, W], got ",
              batch.defined() ? batch.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(batch.scalar_type() == torch::kByte || batch.is_floating_point(), who,
              ": expected uint8 or floating-point images, got ", batch.scalar_type());
  owned = batch.scalar_type() != torch::kFloat;
  if (batch.scalar_type() == torch::kByte) return batch.to(torch::kFloat).div_(255);
  return owned ? batch.to(torch::kFloat) : batch;
}

Tensor run(const std::vector<TransformPtr>& transforms, Tensor x, torch::Generator& gen,
           bool owned);

// A preset whose image size or channel count is taken from the batch it runs on.
class PresetTransform : public Transform {
 public:
  explicit PresetTransform(PresetOptions o) : options_(std::move(o)) {}
  Tensor apply(const Tensor& x, torch::Generator& gen, bool inplace) const override {
    detail::check_batch(x, "preset");
    PresetOptions o = options_;
    if (o.image_size() == 0) o.image_size(x.size(2));
    if (o.channels() == 0) o.channels(x.size(1));
    return run(preset(o).transforms(), x, gen, inplace);
  }
  std::string name() const override { return options_.name(); }
  const PresetOptions& options() const { return options_; }

 private:
  PresetOptions options_;
};

// A crop directly followed by a horizontal flip runs as one pass (same draws, same result).
Tensor crop_then_flip(const Transform& crop, const Transform& next, const Tensor& x,
                      torch::Generator& gen, bool& fused) {
  fused = false;
  const auto* flip = dynamic_cast<const HorizontalFlip*>(&next);
  if (flip == nullptr) return {};
  if (const auto* rrc = dynamic_cast<const RandomResizedCrop*>(&crop)) {
    fused = true;
    return detail::random_resized_crop(x, rrc->options(), flip->options().p(), gen);
  }
  if (const auto* rc = dynamic_cast<const RandomCrop*>(&crop)) {
    fused = true;
    return detail::random_crop(x, rc->options(), flip->options().p(), gen);
  }
  return {};
}

// After the first transform that returns a fresh tensor, later ones may work in place.
Tensor run(const std::vector<TransformPtr>& transforms, Tensor x, torch::Generator& gen,
           bool owned) {
  for (size_t i = 0; i < transforms.size(); ++i) {
    Tensor y;
    bool fused = false;
    if (i + 1 < transforms.size()) {
      y = crop_then_flip(*transforms[i], *transforms[i + 1], x, gen, fused);
    }
    if (fused) {
      ++i;
    } else {
      y = transforms[i]->apply(x, gen, owned);
    }
    owned = owned || !y.is_same(x);
    x = std::move(y);
  }
  return x;
}

// Calls f(0) .. f(n - 1) on LibTorch's intra-op threads. at::parallel_for itself is a header
// template whose OpenMP branch exists only where the including file is built with -fopenmp, which
// this module is not; TensorIterator::for_each runs the parallel_for compiled into LibTorch.
template <typename F>
void for_each_in_parallel(int64_t n, F&& f) {
  Tensor items = torch::arange(n, torch::kLong);
  at::TensorIterator iter = at::TensorIteratorConfig()
                                .set_check_mem_overlap(false)
                                .check_all_same_dtype(false)
                                .resize_outputs(false)
                                .add_output(items)
                                .build();
  iter.for_each(
      [&](char** data, const int64_t* strides, int64_t size) {
        for (int64_t i = 0; i < size; ++i) f(*reinterpret_cast<int64_t*>(data[0] + i * strides[0]));
      },
      /*grain_size=*/1);
}

// ---- YAML ------------------------------------------------------------------------------------

template <typename T>
struct Parse;
template <>
struct Parse<double> {
  static constexpr const char* what = "a number";
  static double from(const YAML::Node& n) { return n.as<double>(); }
};
template <>
struct Parse<int64_t> {
  static constexpr const char* what = "an integer";
  static int64_t from(const YAML::Node& n) { return n.as<int64_t>(); }
};
template <>
struct Parse<bool> {
  static constexpr const char* what = "true or false";
  static bool from(const YAML::Node& n) { return n.as<bool>(); }
};
template <>
struct Parse<std::string> {
  static constexpr const char* what = "a string";
  static std::string from(const YAML::Node& n) {
    if (!n.IsScalar()) throw YAML::BadConversion(n.Mark());
    return n.as<std::string>();
  }
};
template <>
struct Parse<Range> {
  static constexpr const char* what = "a pair of numbers [low, high]";
  static Range from(const YAML::Node& n) {
    if (!n.IsSequence() || n.size() != 2) throw YAML::BadConversion(n.Mark());
    return Range{n[0].as<double>(), n[1].as<double>()};
  }
};
template <>
struct Parse<torch::ExpandingArray<2>> {
  static constexpr const char* what = "an integer or a pair of integers [height, width]";
  static torch::ExpandingArray<2> from(const YAML::Node& n) {
    if (n.IsScalar()) return torch::ExpandingArray<2>(n.as<int64_t>());
    if (!n.IsSequence() || n.size() != 2) throw YAML::BadConversion(n.Mark());
    return torch::ExpandingArray<2>({n[0].as<int64_t>(), n[1].as<int64_t>()});
  }
};
template <typename T>
struct Parse<std::vector<T>> {
  static constexpr const char* what = "a list (or a single value)";
  static std::vector<T> from(const YAML::Node& n) {
    if (n.IsScalar()) return {Parse<T>::from(n)};
    if (!n.IsSequence()) throw YAML::BadConversion(n.Mark());
    std::vector<T> out;
    for (const auto& e : n) out.push_back(Parse<T>::from(e));
    return out;
  }
};

// The keys of one YAML map; remembers what was read so that unknown keys fail loudly.
class Args {
 public:
  Args(const YAML::Node& node, std::string where, std::string op)
      : node_(node), where_(std::move(where)), op_(std::move(op)) {
    TORCH_CHECK(node.IsMap(), where_, ": expected a map, got '", YAML::Dump(node), "'");
  }
  // Const access throughout: yaml-cpp's non-const operator[] and operator= write into the tree.
  YAML::Node node(const std::string& key) {
    read_.insert(key);
    return node_[key];
  }
  template <typename T>
  T get(const std::string& key, const T& fallback) {
    YAML::Node n = node(key);
    return n.IsDefined() && !n.IsNull() ? parse<T>(key, n) : fallback;
  }
  template <typename T>
  T require(const std::string& key) {
    YAML::Node n = node(key);
    TORCH_CHECK(n.IsDefined() && !n.IsNull(), prefix(), "missing key '", key, "'");
    return parse<T>(key, n);
  }
  void check_unused() const {
    for (const auto& kv : node_) {
      const std::string key = kv.first.as<std::string>();
      TORCH_CHECK(read_.count(key) > 0, prefix(), "unknown key '", key, "' (known: ",
                  c10::Join(", ", std::vector<std::string>(read_.begin(), read_.end())), ")");
    }
  }
  std::string prefix() const { return where_ + ": " + (op_.empty() ? "" : op_ + ": "); }

 private:
  template <typename T>
  T parse(const std::string& key, const YAML::Node& n) const {
    try {
      return Parse<T>::from(n);
    } catch (const YAML::Exception&) {
      TORCH_CHECK(false, prefix(), "'", key, "' must be ", Parse<T>::what, ", got '", YAML::Dump(n),
                  "'");
    }
  }
  const YAML::Node node_;
  std::string where_, op_;
  std::set<std::string> read_;
};

template <typename T, typename Options>
TransformPtr make(const Options& o) {
  return std::make_shared<T>(o);
}

using Factory = TransformPtr (*)(Args&);

// One entry per op: its YAML keys, in the order of the Options fields.
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"random_resized_crop",
       [](Args& a) {
         RandomResizedCropOptions o(a.require<torch::ExpandingArray<2>>("size"));
         o.scale(a.get("scale", o.scale())).ratio(a.get("ratio", o.ratio()));
         return make<RandomResizedCrop>(o);
       }},
      {"random_crop",
       [](Args& a) {
         RandomCropOptions o;
         o.size(a.get("size", o.size())).padding(a.get("padding", o.padding()));
         o.padding_mode(a.get("padding_mode", o.padding_mode())).fill(a.get("fill", o.fill()));
         return make<RandomCrop>(o);
       }},
      {"hflip",
       [](Args& a) {
         HorizontalFlipOptions o;
         return make<HorizontalFlip>(o.p(a.get("p", o.p())));
       }},
      {"color_jitter",
       [](Args& a) {
         ColorJitterOptions o;
         o.brightness(a.get("brightness", o.brightness()))
             .contrast(a.get("contrast", o.contrast()));
         o.saturation(a.get("saturation", o.saturation())).hue(a.get("hue", o.hue()));
         return make<ColorJitter>(o.p(a.get("p", o.p())));
       }},
      {"grayscale",
       [](Args& a) {
         RandomGrayscaleOptions o;
         return make<RandomGrayscale>(o.p(a.get("p", o.p())));
       }},
      {"gaussian_blur",
       [](Args& a) {
         GaussianBlurOptions o(a.require<int64_t>("kernel_size"));
         o.sigma(a.get("sigma", o.sigma())).p(a.get("p", o.p()));
         return make<GaussianBlur>(o);
       }},
      {"solarize",
       [](Args& a) {
         SolarizeOptions o;
         o.threshold(a.get("threshold", o.threshold())).p(a.get("p", o.p()));
         return make<Solarize>(o);
       }},
      {"cutout",
       [](Args& a) {
         CutoutOptions o;
         o.size(a.get("size", o.size())).min_size(a.get("min_size", o.min_size()));
         o.fill(a.get("fill", o.fill())).p(a.get("p", o.p()));
         return make<Cutout>(o);
       }},
      {"randaugment",
       [](Args& a) {
         RandAugmentOptions o;
         o.n(a.get("n", o.n())).magnitude(a.get("magnitude", o.magnitude()));
         o.ops(a.get("ops", o.ops())).fill(a.get("fill", o.fill()));
         return make<RandAugment>(o);
       }},
      {"normalize",
       [](Args& a) {
         return make<Normalize>(NormalizeOptions(a.require<std::vector<double>>("mean"),
                                                 a.require<std::vector<double>>("std")));
       }},
  };
  return table;
}

const std::map<std::string, std::string>& aliases() {
  static const std::map<std::string, std::string> table = {
      {"horizontal_flip", "hflip"},      {"random_horizontal_flip", "hflip"},
      {"random_grayscale", "grayscale"}, {"blur", "gaussian_blur"},
      {"rand_augment", "randaugment"},   {"resized_crop", "random_resized_crop"},
  };
  return table;
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const auto& kv : factories()) names.push_back(kv.first);
  return names;
}

TransformPtr parse_op(const YAML::Node& item, const std::string& where) {
  TORCH_CHECK(item.IsMap() && item["op"].IsDefined(), where,
              ": expected a map with an 'op' key, got '", YAML::Dump(item), "'");
  std::string op;
  try {
    op = item["op"].as<std::string>();
  } catch (const YAML::Exception&) {
    TORCH_CHECK(false, where, ": 'op' must be a string, got '", YAML::Dump(item["op"]), "'");
  }
  if (auto alias = aliases().find(op); alias != aliases().end()) op = alias->second;
  auto factory = factories().find(op);
  TORCH_CHECK(factory != factories().end(), where, ": unknown op '", op,
              "' (known: ", c10::Join(", ", op_names()), ")");
  Args args(item, where, op);
  args.node("op");
  TransformPtr t;
  try {
    t = factory->second(args);
  } catch (const c10::Error& e) {
    // Range checks name the op and the key already; add where it is in the config.
    TORCH_CHECK(false, where, ": ", e.what_without_backtrace());
  }
  args.check_unused();
  return t;
}

PresetOptions parse_preset(const YAML::Node& node, const std::string& where) {
  if (node.IsScalar()) return PresetOptions(node.as<std::string>());
  Args a(node, where, "preset");
  PresetOptions o(a.require<std::string>("preset"));
  o.image_size(a.get("size", o.image_size())).channels(a.get("channels", o.channels()));
  o.mean(a.get("mean", o.mean())).std(a.get("std", o.std()));
  o.normalize(a.get("normalize", o.normalize()));
  a.check_unused();
  return o;
}

// `named`: pipelines defined under the view set's `pipelines:` key, found by name before presets.
Pipeline parse_pipeline(const YAML::Node& node, const std::string& where,
                        const std::map<std::string, Pipeline>& named = {}) {
  TORCH_CHECK(node.IsDefined() && !node.IsNull(), where, ": the pipeline is missing");
  if (node.IsScalar()) {
    auto it = named.find(node.as<std::string>());
    if (it != named.end()) return it->second;
  }
  if (node.IsScalar() || (node.IsMap() && node["preset"].IsDefined())) {
    PresetOptions o = parse_preset(node, where);
    try {
      return preset(o);
    } catch (const c10::Error& e) {
      TORCH_CHECK(false, where, ": ", e.what_without_backtrace());
    }
  }
  TORCH_CHECK(node.IsSequence(), where,
              ": a pipeline is a list of ops, a preset name or {preset: ...}, got '",
              YAML::Dump(node), "'");
  Pipeline p;
  for (size_t i = 0; i < node.size(); ++i) {
    p.add(parse_op(node[i], where + " item " + std::to_string(i + 1)));
  }
  return p;
}

}  // namespace

// ---- Pipeline --------------------------------------------------------------------------------

Pipeline::Pipeline(std::vector<TransformPtr> transforms) {
  for (auto& t : transforms) add(std::move(t));
}

Pipeline Pipeline::from_yaml(const YAML::Node& node) {
  return parse_pipeline(node, "augment pipeline");
}

Pipeline& Pipeline::add(TransformPtr t) {
  TORCH_CHECK(t != nullptr, "Pipeline::add: null transform");
  transforms_.push_back(std::move(t));
  return *this;
}

Tensor Pipeline::operator()(const Tensor& batch, torch::Generator& gen) const {
  torch::NoGradGuard no_grad;
  // Nothing here is differentiated: skipping the autograd layers of the dispatcher saves a few
  // microseconds on each of the many small ops (the results are ordinary tensors).
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  bool owned = false;
  Tensor x = to_float_batch(batch, owned, "augment pipeline");
  return run(transforms_, x, gen, owned);
}

Pipeline Pipeline::without_normalize() const {
  Pipeline out;
  for (const TransformPtr& t : transforms_) {
    if (const auto* p = dynamic_cast<const PresetTransform*>(t.get())) {
      PresetOptions o = p->options();
      out.add(std::make_shared<PresetTransform>(o.normalize(false)));
    } else if (t->name() != NormalizeOptions::op_name) {
      out.add(t);
    }
  }
  return out;
}

std::string Pipeline::describe() const {
  std::vector<std::string> names;
  for (const TransformPtr& t : transforms_) names.push_back(t->name());
  return names.empty() ? "(identity)" : c10::Join(" -> ", names);
}

// ---- presets ---------------------------------------------------------------------------------

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"none", "simclr", "weak", "strong"};
  return names;
}

Pipeline preset(const std::string& name, int64_t image_size, int64_t channels) {
  return preset(PresetOptions(name).image_size(image_size).channels(channels));
}

Pipeline preset(const PresetOptions& o) {
  const auto& names = preset_names();
  TORCH_CHECK(std::find(names.begin(), names.end(), o.name()) != names.end(), "unknown preset '",
              o.name(), "' (known: ", c10::Join(", ", names), ")");
  TORCH_CHECK(o.image_size() >= 0, "preset ", o.name(), ": image_size must be >= 0, got ",
              o.image_size());
  TORCH_CHECK(o.channels() == 0 || o.channels() == 1 || o.channels() == 3, "preset ", o.name(),
              ": channels must be 1 or 3 (0 = the batch's), got ", o.channels());
  if (o.image_size() == 0 || o.channels() == 0) {
    return Pipeline({std::make_shared<PresetTransform>(o)});
  }
  const int64_t size = o.image_size();
  Pipeline p;
  if (o.name() == "simclr") {
    // Small images lose too much with 8% crops: solo-learn / lightly use [0.2, 1] on CIFAR.
    p.emplace<RandomResizedCrop>(
        RandomResizedCropOptions(size).scale(size <= 64 ? Range{0.2, 1.0} : Range{0.08, 1.0}));
    p.emplace<HorizontalFlip>(HorizontalFlipOptions().p(0.5));
    p.emplace<ColorJitter>(
        ColorJitterOptions().brightness(0.4).contrast(0.4).saturation(0.4).hue(0.1).p(0.8));
    p.emplace<RandomGrayscale>(RandomGrayscaleOptions().p(0.2));
    if (size >= 96) p.emplace<GaussianBlur>(GaussianBlurOptions((size / 10) | 1).p(0.5));
  } else if (o.name() == "weak" || o.name() == "strong") {
    p.emplace<RandomCrop>(RandomCropOptions().size(size));
    p.emplace<HorizontalFlip>(HorizontalFlipOptions().p(0.5));
    if (o.name() == "strong") {
      p.emplace<RandAugment>(RandAugmentOptions().n(2));
      p.emplace<Cutout>(CutoutOptions().size(0.5).min_size(0.0).fill(0.5));
    }
  }
  if (o.normalize()) {
    std::vector<double> mean = o.mean(), std = o.std();
    if (mean.empty())
      mean = o.channels() == 1 ? std::vector<double>{0.2860}
                               : std::vector<double>{0.4914, 0.4822, 0.4465};
    if (std.empty())
      std = o.channels() == 1 ? std::vector<double>{0.3530}
                              : std::vector<double>{0.2470, 0.2435, 0.2616};
    p.emplace<Normalize>(NormalizeOptions(mean, std));
  }
  return p;
}

// ---- ViewSet ---------------------------------------------------------------------------------

ViewSet ViewSet::from_yaml(const YAML::Node& node) {
  TORCH_CHECK(node.IsDefined() && !node.IsNull(), "augment: the view set is missing");
  YAML::Node list;  // rebound with reset(): yaml-cpp's operator= would overwrite the tree
  std::map<std::string, Pipeline> named;
  list.reset(node);
  if (node.IsMap()) {
    Args top(node, "augment", "");
    const YAML::Node views = top.node("views");
    const YAML::Node defs = top.node("pipelines");
    const YAML::Node single = top.node("pipeline");
    top.check_unused();
    if (defs.IsDefined() && !defs.IsNull()) {
      TORCH_CHECK(defs.IsMap(), "augment: 'pipelines' must map names to pipelines, got '",
                  YAML::Dump(defs), "'");
      for (const auto& kv : defs) {
        const std::string name = kv.first.as<std::string>();
        named.emplace(name, parse_pipeline(kv.second, "augment pipeline '" + name + "'"));
      }
    }
    if (single.IsDefined()) {
      // {pipeline: P, views: K}: K views (default 2) view1 .. viewK of the same pipeline.
      int64_t count = 2;
      if (views.IsDefined()) {
        try {
          count = views.as<int64_t>();
        } catch (const YAML::Exception&) {
          TORCH_CHECK(false, "augment: with 'pipeline', 'views' is the number of views, got '",
                      YAML::Dump(views), "'");
        }
      }
      TORCH_CHECK(count >= 1, "augment: 'views' must be >= 1, got ", count);
      Pipeline p = parse_pipeline(single, "augment pipeline", named);
      ViewSet set;
      for (int64_t k = 1; k <= count; ++k) set.add("view" + std::to_string(k), p);
      return set;
    }
    TORCH_CHECK(views.IsDefined(), "augment: expected a 'views' list (or a 'pipeline')");
    list.reset(views);
  }
  TORCH_CHECK(list.IsSequence() && list.size() > 0,
              "augment: 'views' must be a non-empty list of {name, pipeline, repeat}, got '",
              YAML::Dump(list), "'");
  ViewSet set;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "augment view " + std::to_string(i + 1);
    Args a(list[i], where, "");
    const std::string name = a.get<std::string>("name", "view" + std::to_string(i + 1));
    const int64_t repeat = a.get<int64_t>("repeat", 1);
    const YAML::Node pipeline = a.node("pipeline");
    a.check_unused();
    TORCH_CHECK(repeat >= 1, where, " ('", name, "'): repeat must be >= 1, got ", repeat);
    set.add(name, parse_pipeline(pipeline, where + " ('" + name + "')", named), repeat);
  }
  return set;
}

ViewSet& ViewSet::add(std::string name, Pipeline pipeline, int64_t repeat) {
  TORCH_CHECK(repeat >= 1, "ViewSet::add: repeat must be >= 1, got ", repeat);
  TORCH_CHECK(!name.empty(), "ViewSet::add: a view needs a name");
  for (int64_t k = 0; k < repeat; ++k) {
    std::string n = repeat == 1 ? name : name + "_" + std::to_string(k);
    TORCH_CHECK(std::find(names_.begin(), names_.end(), n) == names_.end(),
                "augment: duplicate view name '", n, "'");
    names_.push_back(std::move(n));
    pipelines_.push_back(pipeline);
  }
  return *this;
}

std::vector<Tensor> ViewSet::operator()(const Tensor& batch, torch::Generator& gen) const {
  torch::NoGradGuard no_grad;
  bool owned = false;
  Tensor x = to_float_batch(batch, owned, "augment views");
  const int64_t n = static_cast<int64_t>(pipelines_.size());
  // Each view draws from its own generator seeded from `gen`, so the views are the same whether
  // they run one after the other or side by side.
  Tensor seed_draws = torch::randint(int64_t{1} << 62, {n}, gen, torch::kLong);
  std::vector<uint64_t> seeds(seed_draws.data_ptr<int64_t>(), seed_draws.data_ptr<int64_t>() + n);
  std::vector<Tensor> views(pipelines_.size());
  auto run_view = [&](int64_t v) {
    torch::NoGradGuard guard;  // grad mode and dispatch keys are per thread
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    torch::Generator g = selfsup::make_generator(seeds[v]);
    // Every view reads the shared converted batch, so none may overwrite it.
    views[v] = run(pipelines_[v].transforms(), x, g, false);
  };
  // On the CPU with no more threads than views, one view per thread beats splitting each of the
  // many small ops across threads (one fork/join per batch instead of one per op; the ops of a
  // view then run inline in its thread).
  const int threads = at::get_num_threads();
  if (x.is_cpu() && threads >= 2 && n >= threads && !at::in_parallel_region()) {
    for_each_in_parallel(n, run_view);
  } else {
    for (int64_t v = 0; v < n; ++v) run_view(v);
  }
  return views;
}

ViewSet ViewSet::without_normalize() const {
  ViewSet out;
  out.names_ = names_;
  for (const Pipeline& p : pipelines_) out.pipelines_.push_back(p.without_normalize());
  return out;
}

Tensor ViewSet::preview(const Tensor& images, torch::Generator& gen) const {
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == torch::kByte,
              "ViewSet::preview: expected uint8 images [N, C, H, W], got ", images.scalar_type(), " ", images.sizes());
  const Tensor original = images.to(torch::kFloat).div_(255);
  std::vector<Tensor> columns = {original};
  for (Tensor v : without_normalize()(images, gen)) {
    if (v.sizes() != original.sizes()) {
      namespace F = torch::nn::functional;
      v = F::interpolate(v, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{original.size(2), original.size(3)})
                                .mode(torch::kNearest));
    }
    columns.push_back(v);
  }
  return torch::stack(columns, 1).flatten(0, 1);
}

}  // namespace selfsup::augment
