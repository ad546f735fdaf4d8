// selfsup: the command-line entry point. Subcommands live in their own files and register here.
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"selfsup: self-supervised, semi-supervised and PU learning on LibTorch"};
  app.require_subcommand(1);
  selfsup::cli::register_all(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.msg() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
