// selfsup: the command-line entry point. Subcommands live in their own files and register here.
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "selfsup/dist/launch.h"
#include "selfsup/train/hooks.h"

namespace {

/// A run a signal stopped (its checkpoint saved) exits 128 + the signal, as a shell reports a
/// process killed by it, so a job chain can tell it from a finished run.
int stopped_exit_code(int otherwise) {
  const int sig = selfsup::train::stop_signal();
  return sig != 0 ? 128 + sig : otherwise;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"selfsup: self-supervised, semi-supervised and positive-unlabeled learning, and denoising, on LibTorch"};
  app.require_subcommand(1);
  selfsup::cli::register_all(app);
  app.footer("The training commands (pretrain, semi, pu, denoise train, text train) also take --nproc N: N local data-parallel processes.");
  try {
    // --nproc N re-runs this command line as N ranks (see dist/launch.h) before CLI11 sees it.
    std::vector<std::string> args(argv, argv + argc);
    const int nproc = selfsup::dist::take_nproc(args);
    if (nproc > 0) {
      const bool sub_train = args.size() > 2 && (args[1] == "denoise" || args[1] == "text") && args[2] == "train";
      TORCH_CHECK(args.size() > 1 && (args[1] == "pretrain" || args[1] == "semi" || args[1] == "pu" || sub_train),
                  "--nproc applies to the training commands (pretrain, semi, pu, denoise train, text train), got '",
                  args.size() > 1 ? args[1] : std::string(), "'");
      if (nproc > 1) return selfsup::dist::launch_local(nproc, args);
    }
    std::vector<char*> rest;
    for (auto& a : args) rest.push_back(a.data());
    app.parse(static_cast<int>(rest.size()), rest.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // One line, as every other refusal: CLI11's own report adds a second.
    std::cerr << "error: " << e.what() << std::endl;
    return e.get_exit_code();
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.msg() << std::endl;
    return stopped_exit_code(1);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return stopped_exit_code(1);
  }
  return stopped_exit_code(0);
}
