#pragma once
// Data-parallel training on LibTorch's own distributed engine, c10d: a TCPStore rendezvous and a
// Gloo process group (CPU tensors, and CUDA tensors on CUDA builds). We write no communication
// layer of our own; this file only adapts c10d to the trainer and the losses.
//
// One process per rank. Rendezvous follows torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so torchrun-style, SLURM or Kubernetes launchers
// work unchanged; `selfsup ... --nproc N` sets it up for N local processes (dist/launch.h).
//
// Every collective below is a no-op (or the identity) in a single process, so methods and losses
// call them unconditionally. When a peer dies or a collective exceeds dist.timeout_seconds, the
// call throws one line naming the collective, this rank and the cause.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace selfsup::dist {

struct DistOptions {
  TORCH_ARG(int, rank) = 0;
  TORCH_ARG(int, world_size) = 1;
  TORCH_ARG(int, local_rank) = 0;
  TORCH_ARG(int, local_world_size) = 1;
  TORCH_ARG(std::string, master_addr) = "127.0.0.1";
  TORCH_ARG(int, master_port) = 29500;
  /// Bound on the rendezvous and on every collective: a dead or stuck peer fails the run after
  /// at most this long instead of hanging it.
  TORCH_ARG(double, timeout_seconds) = 120;

  // TORCH_ARG leaves the struct in a private section.
 public:
  /// Reads torchrun's variables; absent WORLD_SIZE means one process. Malformed values throw.
  static DistOptions from_env();
};

/// Joins the process group (rank 0 hosts the TCPStore). With world_size 1 it does nothing.
/// Calling it again with the same options is a no-op; a different group throws.
void init(const DistOptions& options);
/// Leaves the process group (the next init() may join another one).
void shutdown();

bool is_distributed();  // world_size() > 1
int rank();
int world_size();
int local_world_size();
inline bool is_main() { return rank() == 0; }

/// In-place collectives over every rank.
void all_reduce_sum_(torch::Tensor& t);
void all_reduce_max_(torch::Tensor& t);
void broadcast_(torch::Tensor& t, int root = 0);

/// The rows of every rank concatenated in rank order: [world * B, ...] from [B, ...] (every rank
/// must pass the same shape). Differentiable: the gradient of each rank's rows is the sum over
/// ranks of the gradients they received, which, with gradients averaged over ranks after
/// backward, makes a loss computed on the gathered batch train exactly as the same loss on one
/// process holding the whole batch.
torch::Tensor all_gather(const torch::Tensor& x);

/// The elementwise sum over ranks, replicated on every rank. Differentiable (the gradient is
/// summed over ranks the same way), for statistics such as SyncBatchNorm's.
torch::Tensor all_reduce_sum(const torch::Tensor& x);

/// Copies rank 0's parameters and buffers to every rank.
void broadcast_module(torch::nn::Module& module);

/// Averages the gradients of `params` over ranks: flattened into buckets of at most
/// `bucket_bytes`, one all-reduce per bucket. Parameters without a gradient are skipped; every
/// rank runs the same graph, so every rank skips the same ones.
void average_gradients(const std::vector<torch::Tensor>& params, int64_t bucket_bytes = int64_t{25} << 20);

}  // namespace selfsup::dist
