#include "selfsup/dist/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <c10/util/Exception.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

extern char** environ;

namespace selfsup::dist {
namespace {

std::vector<pid_t> g_children;

void forward_signal(int sig) {
  for (pid_t p : g_children) {
    if (p > 0) ::kill(p, sig);
  }
}

int parse_nproc(const std::string& v) {
  size_t used = 0;
  int n = 0;
  try {
    n = std::stoi(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TORCH_CHECK(used == v.size() && !v.empty() && n > 0, "--nproc must be a positive integer, got '", v, "'");
  // Local processes share this machine's cores: one each at the most.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  TORCH_CHECK(n <= cores, "--nproc ", n, " is more than this machine's ", cores, " cores");
  return n;
}

/// A port the kernel says is free now (the store binds it a moment later; the race is benign on
/// one machine and MASTER_PORT overrides it).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  TORCH_CHECK(fd >= 0, "--nproc: cannot open a socket to find a free port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  TORCH_CHECK(ok, "--nproc: cannot find a free port on 127.0.0.1 (set MASTER_PORT)");
  return ntohs(a.sin_port);
}

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int take_nproc(std::vector<std::string>& args) {
  int n = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      TORCH_CHECK(i + 1 < args.size(), "--nproc needs a value (the number of local processes)");
      n = parse_nproc(args[i + 1]);
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      --i;
    } else if (args[i].rfind("--nproc=", 0) == 0) {
      n = parse_nproc(args[i].substr(8));
      args.erase(args.begin() + static_cast<long>(i));
      --i;
    }
  }
  return n;
}

int launch_local(int nproc, const std::vector<std::string>& args) {
  TORCH_CHECK(nproc > 0, "--nproc must be positive, got ", nproc);
  TORCH_CHECK(!args.empty(), "launch_local needs the command line");
  const char* addr_env = std::getenv("MASTER_ADDR");
  const std::string addr = addr_env != nullptr && *addr_env != '\0' ? addr_env : "127.0.0.1";
  const char* port_env = std::getenv("MASTER_PORT");
  const std::string port = port_env != nullptr && *port_env != '\0' ? port_env : std::to_string(free_port());

  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  g_children.assign(static_cast<size_t>(nproc), -1);
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  for (int r = 0; r < nproc; ++r) {
    // The child's environment is built before fork: between fork and exec only
    // async-signal-safe calls are allowed.
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      if (key != "RANK" && key != "LOCAL_RANK" && key != "WORLD_SIZE" && key != "LOCAL_WORLD_SIZE" &&
          key != "MASTER_ADDR" && key != "MASTER_PORT") {
        env.push_back(kv);
      }
    }
    env.push_back("RANK=" + std::to_string(r));
    env.push_back("LOCAL_RANK=" + std::to_string(r));
    env.push_back("WORLD_SIZE=" + std::to_string(nproc));
    env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(nproc));
    env.push_back("MASTER_ADDR=" + addr);
    env.push_back("MASTER_PORT=" + port);
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    TORCH_CHECK(pid >= 0, "--nproc: fork failed for rank ", r);
    if (pid == 0) {
      ::execve("/proc/self/exe", argv.data(), envp.data());
      static const char msg[] = "error: --nproc: cannot execute /proc/self/exe\n";
      (void)!::write(2, msg, sizeof(msg) - 1);
      ::_exit(127);
    }
    g_children[static_cast<size_t>(r)] = pid;
  }

  using Clock = std::chrono::steady_clock;
  int result = 0, alive = nproc;
  bool failed = false;
  Clock::time_point kill_at;
  while (alive > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (size_t r = 0; r < g_children.size(); ++r) {
        if (g_children[r] != pid) continue;
        g_children[r] = -1;
        --alive;
        const int code = exit_status(status);
        if (code != 0 && !failed) {
          failed = true;
          result = code;
          if (alive > 0) {
            std::cerr << "error: rank " << r << " of " << nproc << " exited with status " << code
                      << "; stopping the other ranks\n";
          }
          forward_signal(SIGTERM);
          kill_at = Clock::now() + std::chrono::seconds(30);
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (failed && Clock::now() > kill_at) forward_signal(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  g_children.clear();
  return result;
}

}  // namespace selfsup::dist
