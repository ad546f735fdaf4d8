#pragma once
// `selfsup COMMAND ... --nproc N`: N local processes of the same command, one rank each, joined
// over the loopback interface (the environment torchrun would set, with a free port).
#include <string>
#include <vector>

namespace selfsup::dist {

/// Removes `--nproc N` or `--nproc=N` from `args` (args[0] is the program); returns N, or 0 when
/// absent. A value that is not a positive integer throws, naming it.
int take_nproc(std::vector<std::string>& args);

/// Starts `nproc` copies of this executable with `args` (without --nproc), rank r with RANK=r,
/// LOCAL_RANK=r, WORLD_SIZE=LOCAL_WORLD_SIZE=nproc, MASTER_ADDR (127.0.0.1 unless set) and
/// MASTER_PORT (a free port unless set), and waits for them. SIGINT/SIGTERM are passed on. When a
/// rank fails, the others get SIGTERM (SIGKILL 30 s later): a run cannot go on without one of
/// its ranks. Returns 0 when every rank succeeded, else the first failure's exit status.
int launch_local(int nproc, const std::vector<std::string>& args);

}  // namespace selfsup::dist
