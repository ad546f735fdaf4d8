// cpu::conv3x3 on oneDNN's kernels (cpu_kernels.h says why), in a build with oneDNN's headers.
#include "cpu_kernels.h"

#if SELFSUP_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#endif

namespace selfsup::nets::cpu {

#if SELFSUP_HAVE_ONEDNN

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::desc plain(const memory::dims& dims, Tag tag) { return {dims, memory::data_type::f32, tag}; }

// How the caller's activation tensor is laid out, as oneDNN describes it.
memory::desc user_desc(const memory::dims& dims, Layout layout) {
  return plain(dims, layout == Layout::kBlocked16 ? Tag::nChw16c : Tag::nchw);
}

std::vector<int64_t> tensor_shape(const memory::dims& dims, Layout layout) {
  if (layout == Layout::kBlocked16) return {dims[0], dims[1] / 16, dims[2], dims[3], 16};
  return {dims.begin(), dims.end()};
}

// A buffer for a oneDNN layout, owned by a tensor so that LibTorch's allocator (and autograd, for
// the saved input) manages it.
struct Buffer {
  torch::Tensor storage;
  memory mem;
};

Buffer allocate(const memory::desc& desc) {
  auto storage = torch::empty({static_cast<int64_t>(desc.get_size())}, torch::kUInt8);
  return {storage, memory(desc, cpu_engine(), storage.data_ptr())};
}

// `mem` in layout `desc`: itself when the layouts agree, else a reordered copy.
Buffer in_layout(const memory& mem, const memory::desc& desc, dnnl::stream& stream, const torch::Tensor& owner) {
  if (mem.get_desc() == desc) return {owner, mem};
  auto out = allocate(desc);
  dnnl::reorder(mem, out.mem).execute(stream, const_cast<memory&>(mem), out.mem);
  return out;
}

// Writes `mem` into the caller's tensor `out` (layout `desc`), reordering when the layouts differ.
void to_user(const memory& mem, torch::Tensor& out, const memory::desc& desc, dnnl::stream& stream) {
  memory dst(desc, cpu_engine(), out.data_ptr());
  if (mem.get_desc() == dst.get_desc()) return;  // the primitive wrote `out` itself
  dnnl::reorder(mem, dst).execute(stream, const_cast<memory&>(mem), dst);
}

// Every primitive scratchpad is a tensor of the call, so that concurrent calls never share one.
torch::Tensor scratchpad(const memory::desc& desc, std::unordered_map<int, memory>& args) {
  auto storage = torch::empty({static_cast<int64_t>(desc.get_size())}, torch::kUInt8);
  args.insert({DNNL_ARG_SCRATCHPAD, memory(desc, cpu_engine(), storage.data_ptr())});
  return storage;
}

// Runs `primitive` on `args` and its own scratchpad, its output (argument `out_arg`, in oneDNN's
// layout `produced`) going to the caller's tensor `out` in layout `wanted`: written in place when
// the two agree, else through a buffer and one reorder.
void execute_into(const dnnl::primitive& primitive, const memory::desc& scratch, std::unordered_map<int, memory> args,
                  int out_arg, const memory::desc& produced, torch::Tensor& out, const memory::desc& wanted,
                  dnnl::stream& stream) {
  auto result = produced == wanted ? Buffer{out, memory(wanted, cpu_engine(), out.data_ptr())} : allocate(produced);
  args.insert({out_arg, result.mem});
  auto pad = scratchpad(scratch, args);
  primitive.execute(stream, args);
  to_user(result.mem, out, wanted, stream);
  stream.wait();
}

// The primitives of one shape, built once (oneDNN JIT-compiles each) and reused by every call.
struct Plan {
  memory::dims src, weights, dst;
  dnnl::algorithm algorithm;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  std::once_flag backward_built;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd;
  dnnl::convolution_backward_weights bwd_weights;

  dnnl::primitive_attr attr() const {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return a;
  }

  // The blocked layouts are left to oneDNN (format `any`): it picks those its kernels run on.
  Plan(const memory::dims& s, const memory::dims& w, const memory::dims& d, dnnl::algorithm alg)
      : src(s), weights(w), dst(d), algorithm(alg) {
    const memory::desc any_s(src, memory::data_type::f32, Tag::any), any_w(weights, memory::data_type::f32, Tag::any),
        any_d(dst, memory::data_type::f32, Tag::any);
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, algorithm, any_s, any_w, any_d, {1, 1},
                                         {1, 1}, {1, 1});
    fwd_pd = dnnl::convolution_forward::primitive_desc(desc, attr(), cpu_engine());
    fwd = dnnl::convolution_forward(fwd_pd);
  }

  void build_backward() {
    std::call_once(backward_built, [this] {
      const memory::desc any_s(src, memory::data_type::f32, Tag::any),
          any_w(weights, memory::data_type::f32, Tag::any), any_d(dst, memory::data_type::f32, Tag::any);
      dnnl::convolution_backward_data::desc data(algorithm, any_s, any_w, any_d, {1, 1}, {1, 1}, {1, 1});
      bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(data, attr(), cpu_engine(), fwd_pd);
      bwd_data = dnnl::convolution_backward_data(bwd_data_pd);
      dnnl::convolution_backward_weights::desc wdesc(algorithm, any_s, any_w, any_d, {1, 1}, {1, 1}, {1, 1});
      bwd_weights_pd = dnnl::convolution_backward_weights::primitive_desc(wdesc, attr(), cpu_engine(), fwd_pd);
      bwd_weights = dnnl::convolution_backward_weights(bwd_weights_pd);
    });
  }
};

// Plans by (src dims, output channels, algorithm asked for). Evaluation adds a shape per last
// batch size, so the cache is bounded: past 64 shapes it starts again.
std::shared_ptr<Plan> plan_for(const memory::dims& src, const memory::dims& weights, Conv3x3Algorithm asked) {
  static std::mutex mutex;
  static std::map<std::tuple<memory::dims, memory::dims, int>, std::shared_ptr<Plan>> plans;
  const auto key = std::make_tuple(src, weights, static_cast<int>(asked));
  std::lock_guard<std::mutex> lock(mutex);
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  if (plans.size() >= 64) plans.clear();
  const memory::dims dst = {src[0], weights[0], src[2], src[3]};
  std::shared_ptr<Plan> plan;
  if (asked != Conv3x3Algorithm::kDirect) {
    try {
      plan = std::make_shared<Plan>(src, weights, dst, dnnl::algorithm::convolution_winograd);
    } catch (const dnnl::error& e) {
      // Winograd needs AVX-512 and channel counts it can block; the direct algorithm takes any.
      TORCH_CHECK(asked != Conv3x3Algorithm::kWinograd, "conv3x3: oneDNN has no Winograd kernel for input ", src,
                  " and weight ", weights, " on this CPU (", e.what(), ")");
    }
  }
  if (!plan) plan = std::make_shared<Plan>(src, weights, dst, dnnl::algorithm::convolution_direct);
  plans.emplace(key, plan);
  return plan;
}

memory::dims dims_of(const torch::Tensor& t) { return {t.sizes().begin(), t.sizes().end()}; }

struct Conv3x3Fn : torch::autograd::Function<Conv3x3Fn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, int64_t algorithm, int64_t src_layout, int64_t dst_layout) {
    auto w = weight.contiguous();
    const auto in_layout_of_x = static_cast<Layout>(src_layout), out_layout = static_cast<Layout>(dst_layout);
    const memory::dims src_dims = {x.size(0), w.size(1), x.size(2), x.size(3)};
    auto plan = plan_for(src_dims, dims_of(w), static_cast<Conv3x3Algorithm>(algorithm));
    dnnl::stream stream(cpu_engine());
    memory x_mem(user_desc(plan->src, in_layout_of_x), cpu_engine(), x.data_ptr());
    memory w_mem(plain(plan->weights, Tag::oihw), cpu_engine(), w.data_ptr());
    auto src = in_layout(x_mem, plan->fwd_pd.src_desc(), stream, x);
    auto wts = in_layout(w_mem, plan->fwd_pd.weights_desc(), stream, w);
    const auto out_desc = user_desc(plan->dst, out_layout);
    auto out = torch::empty(tensor_shape(plan->dst, out_layout), x.options());
    execute_into(plan->fwd, plan->fwd_pd.scratchpad_desc(), {{DNNL_ARG_SRC, src.mem}, {DNNL_ARG_WEIGHTS, wts.mem}},
                 DNNL_ARG_DST, plan->fwd_pd.dst_desc(), out, out_desc, stream);

    // The weight gradient reads the input in the forward's blocked layout: kept as it is, so the
    // backward pass does not reorder it again.
    ctx->saved_data["src"] = src.storage;
    ctx->saved_data["algorithm"] = algorithm;
    ctx->saved_data["src_layout"] = src_layout;
    ctx->saved_data["dst_layout"] = dst_layout;
    ctx->save_for_backward({w});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto w = ctx->get_saved_variables()[0];
    const auto src_storage = ctx->saved_data["src"].toTensor();
    const auto src_layout = static_cast<Layout>(ctx->saved_data["src_layout"].toInt());
    const auto dst_layout = static_cast<Layout>(ctx->saved_data["dst_layout"].toInt());
    auto g = grads[0].contiguous();
    // The forward's plan (or an identical rebuild, should the cache have been cleared since).
    const memory::dims src_dims = {g.size(0), w.size(1), g.size(2), g.size(3)};
    auto plan = plan_for(src_dims, dims_of(w), static_cast<Conv3x3Algorithm>(ctx->saved_data["algorithm"].toInt()));
    plan->build_backward();
    dnnl::stream stream(cpu_engine());
    memory g_mem(user_desc(plan->dst, dst_layout), cpu_engine(), g.data_ptr());

    torch::Tensor dx, dw;
    Buffer diff_dst = in_layout(g_mem, plan->bwd_data_pd.diff_dst_desc(), stream, g);
    if (ctx->needs_input_grad(0)) {
      memory w_mem(plain(plan->weights, Tag::oihw), cpu_engine(), w.data_ptr());
      auto wts = in_layout(w_mem, plan->bwd_data_pd.weights_desc(), stream, w);
      const auto dx_desc = user_desc(plan->src, src_layout);
      dx = torch::empty(tensor_shape(plan->src, src_layout), g.options());
      execute_into(plan->bwd_data, plan->bwd_data_pd.scratchpad_desc(),
                   {{DNNL_ARG_DIFF_DST, diff_dst.mem}, {DNNL_ARG_WEIGHTS, wts.mem}}, DNNL_ARG_DIFF_SRC,
                   plan->bwd_data_pd.diff_src_desc(), dx, dx_desc, stream);
    }
    if (ctx->needs_input_grad(1)) {
      memory saved(plan->fwd_pd.src_desc(), cpu_engine(), src_storage.data_ptr());
      auto src = in_layout(saved, plan->bwd_weights_pd.src_desc(), stream, src_storage);
      auto dd = in_layout(diff_dst.mem, plan->bwd_weights_pd.diff_dst_desc(), stream, diff_dst.storage);
      dw = torch::empty(plan->weights, g.options());
      const auto dw_desc = plain(plan->weights, Tag::oihw);
      execute_into(plan->bwd_weights, plan->bwd_weights_pd.scratchpad_desc(),
                   {{DNNL_ARG_SRC, src.mem}, {DNNL_ARG_DIFF_DST, dd.mem}}, DNNL_ARG_DIFF_WEIGHTS,
                   plan->bwd_weights_pd.diff_weights_desc(), dw, dw_desc, stream);
    }
    return {dx, dw, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool have_onednn() { return true; }

torch::Tensor conv3x3(const torch::Tensor& x, const torch::Tensor& weight, Conv3x3Algorithm algorithm,
                      Layout src_layout, Layout dst_layout) {
  return Conv3x3Fn::apply(x, weight, static_cast<int64_t>(algorithm), static_cast<int64_t>(src_layout),
                          static_cast<int64_t>(dst_layout));
}

#else

bool have_onednn() { return false; }

torch::Tensor conv3x3(const torch::Tensor& x, const torch::Tensor& weight, Conv3x3Algorithm algorithm,
                      Layout src_layout, Layout dst_layout) {
  TORCH_CHECK(false, "conv3x3: this build has no oneDNN headers");
  return {};
}

#endif

}  // namespace selfsup::nets::cpu
