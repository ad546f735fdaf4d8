// RandAugment with FixMatch's random magnitude per op (USB's fixmatch augment_list).
#include "selfsup/augment/randaugment.h"

#include <algorithm>
#include <cmath>

#include "common.h"
#include "selfsup/augment/functional.h"

namespace selfsup::augment {

using torch::Tensor;

namespace {

constexpr double kPi = 3.14159265358979323846;

// The per-sample values v (double CPU [n]) become the op's argument.
using OpFn = Tensor (*)(const Tensor& x, const Tensor& v, double fill);

enum class Geometric { kRotate, kShearX, kShearY, kTranslateX, kTranslateY };

// The inverse map [A | t] of each sample (PIL's affine data), v in degrees for rotations, as a
// shear factor or as a fraction of the side for translations.
Tensor geometric(const Tensor& x, const Tensor& v, double fill, Geometric kind) {
  const Tensor one = torch::ones_like(v), zero = torch::zeros_like(v);
  std::array<Tensor, 6> e;
  if (kind == Geometric::kRotate) {
    const Tensor rad = v * (kPi / 180.0);
    e = {rad.cos(), -rad.sin(), zero, rad.sin(), rad.cos(), zero};
  } else if (kind == Geometric::kShearX) {
    e = {one, v, zero, zero, one, zero};
  } else if (kind == Geometric::kShearY) {
    e = {one, zero, zero, v, one, zero};
  } else if (kind == Geometric::kTranslateX) {
    e = {one, zero, v * x.size(3), zero, one, zero};
  } else {
    e = {one, zero, zero, zero, one, v * x.size(2)};
  }
  Tensor m = torch::stack(at::TensorList(e.data(), e.size()), 1).view({v.size(0), 2, 3});
  return functional::affine(x, m, fill, /*bilinear=*/false);
}

struct Op {
  const char* name;
  double lo, hi;
  OpFn fn;  // nullptr: identity
};

const std::vector<Op>& ops() {
  namespace F = functional;
  static const std::vector<Op> table = {
      {"identity", 0, 1, nullptr},
      {"autocontrast", 0, 1,
       [](const Tensor& x, const Tensor&, double) { return F::autocontrast(x); }},
      {"equalize", 0, 1, [](const Tensor& x, const Tensor&, double) { return F::equalize(x); }},
      {"rotate", -30, 30,
       [](const Tensor& x, const Tensor& v, double f) {
         return geometric(x, v, f, Geometric::kRotate);
       }},
      {"solarize", 0, 1,
       [](const Tensor& x, const Tensor& v, double) { return F::solarize(x, v); }},
      {"color", 0.05, 0.95,
       [](const Tensor& x, const Tensor& v, double) { return F::adjust_saturation(x, v); }},
      {"posterize", 4, 8,
       [](const Tensor& x, const Tensor& v, double) { return F::posterize(x, v.floor()); }},
      {"contrast", 0.05, 0.95,
       [](const Tensor& x, const Tensor& v, double) { return F::adjust_contrast(x, v); }},
      {"brightness", 0.05, 0.95,
       [](const Tensor& x, const Tensor& v, double) { return F::adjust_brightness(x, v); }},
      {"sharpness", 0.05, 0.95,
       [](const Tensor& x, const Tensor& v, double) { return F::adjust_sharpness(x, v); }},
      {"shear_x", -0.3, 0.3,
       [](const Tensor& x, const Tensor& v, double f) {
         return geometric(x, v, f, Geometric::kShearX);
       }},
      {"shear_y", -0.3, 0.3,
       [](const Tensor& x, const Tensor& v, double f) {
         return geometric(x, v, f, Geometric::kShearY);
       }},
      {"translate_x", -0.3, 0.3,
       [](const Tensor& x, const Tensor& v, double f) {
         return geometric(x, v, f, Geometric::kTranslateX);
       }},
      {"translate_y", -0.3, 0.3,
       [](const Tensor& x, const Tensor& v, double f) {
         return geometric(x, v, f, Geometric::kTranslateY);
       }},
  };
  return table;
}

// Indices into ops() of the selected names (all when empty); throws naming an unknown one.
std::vector<size_t> selected_ops(const RandAugmentOptions& o) {
  std::vector<size_t> out;
  if (o.ops().empty()) {
    for (size_t i = 0; i < ops().size(); ++i) out.push_back(i);
    return out;
  }
  for (const std::string& name : o.ops()) {
    auto it =
        std::find_if(ops().begin(), ops().end(), [&](const Op& op) { return name == op.name; });
    TORCH_CHECK(it != ops().end(), RandAugmentOptions::op_name, ": unknown op '", name,
                "' in ops (known: ", c10::Join(", ", randaugment_op_names()), ")");
    out.push_back(static_cast<size_t>(it - ops().begin()));
  }
  return out;
}

}  // namespace

const std::vector<std::string>& randaugment_op_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Op& op : ops()) v.emplace_back(op.name);
    return v;
  }();
  return names;
}

void validate(const RandAugmentOptions& o) {
  const char* op = RandAugmentOptions::op_name;
  TORCH_CHECK(o.n() >= 0, op, ": n must be >= 0, got ", o.n());
  TORCH_CHECK(
      o.magnitude()[0] >= 0 && o.magnitude()[0] <= o.magnitude()[1] && o.magnitude()[1] <= 1, op,
      ": magnitude must be an increasing pair in [0, 1], got [", o.magnitude()[0], ", ",
      o.magnitude()[1], "]");
  TORCH_CHECK(o.fill() >= 0 && o.fill() <= 1, op, ": fill must be in [0, 1], got ", o.fill());
  selected_ops(o);
}

namespace functional {

Tensor randaugment(const Tensor& x, const RandAugmentOptions& o, torch::Generator& gen,
                   bool inplace) {
  validate(o);
  detail::check_batch(x, o.op_name);
  const std::vector<size_t> chosen = selected_ops(o);
  const int64_t batch = x.size(0), n_ops = static_cast<int64_t>(chosen.size());
  Tensor out = x;
  bool owned = inplace;
  for (int64_t slot = 0; slot < o.n(); ++slot) {
    // random.choices with replacement, then an independent magnitude per op application.
    Tensor which = torch::randint(n_ops, {batch}, gen, torch::kLong);
    Tensor m = detail::uniform(batch, o.magnitude()[0], o.magnitude()[1], gen);
    for (int64_t k = 0; k < n_ops; ++k) {
      const Op& op = ops()[chosen[k]];
      if (op.fn == nullptr) continue;
      Tensor value = op.lo + m * (op.hi - op.lo);
      Tensor next = detail::apply_to_subset(
          out, which == k, owned, [&](const Tensor& sub, bool, const Tensor& idx) {
            return op.fn(sub, value.index_select(0, idx), o.fill());
          });
      owned = owned || !next.is_same(out);
      out = next;
    }
  }
  return out;
}

}  // namespace functional
}  // namespace selfsup::augment
