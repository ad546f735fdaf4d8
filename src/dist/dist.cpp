#include "selfsup/dist/dist.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace selfsup::dist {
namespace {

// LibTorch 2 split the process group into a front (c10d::ProcessGroup) and per-device backends;
// ProcessGroupGloo became a c10d::Backend, which carries the same collectives. We hold the
// backend itself, which is also what LibTorch 1.13's ProcessGroupGloo is.
#if TORCH_VERSION_MAJOR >= 2
using Group = c10d::Backend;
#else
using Group = c10d::ProcessGroup;
#endif

struct State {
  DistOptions options;
  c10::intrusive_ptr<Group> group;
};
State& state() {
  static State s;
  return s;
}

int env_int(const char* name, int fallback, int min_value) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(v, &end, 10);
  TORCH_CHECK(*end == '\0' && errno == 0 && x >= min_value && x <= INT_MAX, "environment variable ", name,
              " must be an integer >= ", min_value, ", got '", v, "'");
  return static_cast<int>(x);
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

/// Waits for a collective, turning c10d's multi-line errors into one line that says where.
void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
  std::string cause;
  try {
    work->wait();
    return;
  } catch (const c10::Error& e) {
    cause = e.msg();
  } catch (const std::exception& e) {
    cause = e.what();
  }
  TORCH_CHECK(false, "distributed ", what, " failed on rank ", rank(), " of ", world_size(),
              " (a peer process stopped, or dist.timeout_seconds = ", state().options.timeout_seconds(),
              " passed): ", first_line(cause));
}

Group& group() {
  TORCH_INTERNAL_ASSERT(state().group, "collective called without a process group");
  return *state().group;
}

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0; }

/// Runs an in-place collective on a contiguous copy when the tensor is not contiguous (Gloo
/// needs dense tensors; a channels-last convolution weight is not).
template <typename F>
void on_dense(torch::Tensor& t, F&& f) {
  if (t.is_contiguous()) {
    f(t);
  } else {
    auto dense = t.contiguous();
    f(dense);
    t.copy_(dense);
  }
}

/// Gloo has no bf16/fp16 reductions and no bool: reduced-precision activations travel as fp32,
/// flags (a bank's written slots) as bytes.
torch::Tensor wire(const torch::Tensor& x) {
  const auto t = x.scalar_type();
  if (t == torch::kBool) return x.to(torch::kByte);
  return (t == torch::kBFloat16 || t == torch::kHalf) ? x.to(torch::kFloat32) : x;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct AllGather : torch::autograd::Function<AllGather> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x) {
    ctx->saved_data["rows"] = x.size(0);
    std::vector<torch::Tensor> in{x.contiguous()};
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int r = 0; r < world_size(); ++r) out[0].push_back(torch::empty_like(in[0]));
    wait(group().allgather(out, in), "all_gather");
    return torch::cat(out[0]);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // Every rank's loss may depend on this rank's rows: their gradient is the sum over ranks.
    auto g = grads[0].contiguous().clone();
    all_reduce_sum_(g);
    const int64_t rows = ctx->saved_data["rows"].toInt();
    return {g.slice(0, rank() * rows, (rank() + 1) * rows)};
  }
};

struct AllReduceSum : torch::autograd::Function<AllReduceSum> {
  static torch::Tensor forward(AutogradContext*, const torch::Tensor& x) {
    auto out = x.contiguous().clone();
    all_reduce_sum_(out);
    return out;
  }
  static variable_list backward(AutogradContext*, variable_list grads) {
    auto g = grads[0].contiguous().clone();
    all_reduce_sum_(g);
    return {g};
  }
};

}  // namespace

DistOptions DistOptions::from_env() {
  DistOptions o;
  o.world_size(env_int("WORLD_SIZE", 1, 1));
  o.rank(env_int("RANK", 0, 0));
  o.local_rank(env_int("LOCAL_RANK", o.rank(), 0));
  o.local_world_size(env_int("LOCAL_WORLD_SIZE", o.world_size(), 1));
  if (const char* a = std::getenv("MASTER_ADDR"); a != nullptr && *a != '\0') o.master_addr(a);
  o.master_port(env_int("MASTER_PORT", o.master_port(), 1));
  TORCH_CHECK(o.rank() < o.world_size(), "RANK must be below WORLD_SIZE (", o.world_size(), "), got ", o.rank());
  TORCH_CHECK(o.master_port() < 65536, "MASTER_PORT must be a TCP port (1-65535), got ", o.master_port());
  return o;
}

void init(const DistOptions& o) {
  auto& s = state();
  TORCH_CHECK(o.world_size() >= 1, "world size must be positive, got ", o.world_size());
  TORCH_CHECK(o.rank() >= 0 && o.rank() < o.world_size(), "rank must be in [0, ", o.world_size(), "), got ", o.rank());
  TORCH_CHECK(o.timeout_seconds() > 0, "dist.timeout_seconds must be positive, got ", o.timeout_seconds());
  if (s.group) {
    TORCH_CHECK(o.rank() == s.options.rank() && o.world_size() == s.options.world_size(),
                "this process already is rank ", s.options.rank(), " of ", s.options.world_size(),
                "; cannot join as rank ", o.rank(), " of ", o.world_size());
    return;
  }
  s.options = o;
  if (o.world_size() == 1) return;
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds() * 1000));
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(o.master_port());
  so.isServer = o.rank() == 0;
  so.numWorkers = static_cast<std::size_t>(o.world_size());
  so.waitWorkers = true;
  so.timeout = timeout;
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  try {
    auto store = c10::make_intrusive<c10d::TCPStore>(o.master_addr(), so);
    // GLOO_SOCKET_IFNAME picks the network interface, as in PyTorch; on one machine the loopback.
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname != nullptr && *ifname != '\0') {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (is_loopback(o.master_addr())) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.master_addr()));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    s.group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank(), o.world_size(), options);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "rank ", o.rank(), " of ", o.world_size(), " could not join the process group at ",
                o.master_addr(), ":", o.master_port(), " within ", o.timeout_seconds(), " s: ", first_line(e.msg()));
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "rank ", o.rank(), " of ", o.world_size(), " could not join the process group at ",
                o.master_addr(), ":", o.master_port(), " within ", o.timeout_seconds(), " s: ", first_line(e.what()));
  }
}

void shutdown() {
  state().group.reset();
  state().options = DistOptions();
}

bool is_distributed() { return state().options.world_size() > 1; }
int rank() { return state().options.rank(); }
int world_size() { return state().options.world_size(); }
int local_world_size() { return state().options.local_world_size(); }

void all_reduce_sum_(torch::Tensor& t) {
  if (!is_distributed()) return;
  on_dense(t, [](torch::Tensor& d) {
    std::vector<torch::Tensor> v{d};
    wait(group().allreduce(v), "all_reduce");
  });
}

void all_reduce_max_(torch::Tensor& t) {
  if (!is_distributed()) return;
  on_dense(t, [](torch::Tensor& d) {
    std::vector<torch::Tensor> v{d};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::MAX;
    wait(group().allreduce(v, o), "all_reduce(max)");
  });
}

void broadcast_(torch::Tensor& t, int root) {
  if (!is_distributed()) return;
  TORCH_CHECK(root >= 0 && root < world_size(), "broadcast root must be a rank below ", world_size(), ", got ", root);
  if (t.scalar_type() == torch::kBool) {
    auto bytes = wire(t);
    broadcast_(bytes, root);
    t.copy_(bytes);
    return;
  }
  on_dense(t, [root](torch::Tensor& d) {
    std::vector<torch::Tensor> v{d};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    wait(group().broadcast(v, o), "broadcast");
  });
}

torch::Tensor all_gather(const torch::Tensor& x) {
  if (!is_distributed()) return x;
  TORCH_CHECK(x.dim() >= 1, "all_gather needs a batch dimension, got a ", x.dim(), "-d tensor");
  return AllGather::apply(wire(x)).to(x.scalar_type());
}

torch::Tensor all_reduce_sum(const torch::Tensor& x) {
  if (!is_distributed()) return x;
  return AllReduceSum::apply(wire(x)).to(x.scalar_type());
}

void broadcast_module(torch::nn::Module& module) {
  if (!is_distributed()) return;
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    auto d = p.data();
    broadcast_(d);
  }
  for (auto& b : module.buffers()) broadcast_(b);
}

void average_gradients(const std::vector<torch::Tensor>& params, int64_t bucket_bytes) {
  if (!is_distributed()) return;
  TORCH_CHECK(bucket_bytes > 0, "bucket_bytes must be positive, got ", bucket_bytes);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  const double scale = 1.0 / world_size();
  size_t i = 0;
  while (i < grads.size()) {
    // A bucket: consecutive gradients of one dtype and device, up to bucket_bytes.
    size_t j = i;
    int64_t bytes = 0;
    std::vector<torch::Tensor> flat;
    while (j < grads.size() && grads[j].scalar_type() == grads[i].scalar_type() &&
           grads[j].device() == grads[i].device() &&
           (j == i || bytes + grads[j].numel() * grads[j].element_size() <= bucket_bytes)) {
      bytes += grads[j].numel() * grads[j].element_size();
      flat.push_back(grads[j].reshape(-1));
      ++j;
    }
    auto bucket = torch::cat(flat);
    all_reduce_sum_(bucket);
    bucket.mul_(scale);
    int64_t offset = 0;
    for (size_t k = i; k < j; ++k) {
      const int64_t n = grads[k].numel();
      grads[k].copy_(bucket.slice(0, offset, offset + n).view(grads[k].sizes()));
      offset += n;
    }
    i = j;
  }
}

}  // namespace selfsup::dist
