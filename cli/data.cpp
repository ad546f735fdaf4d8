#include <iostream>

#include "commands.h"

namespace selfsup::cli {
void register_data(CLI::App& app) {
  auto* data = app.add_subcommand("data", "inspect data sets");
  data->require_subcommand(1);
  auto* info = data->add_subcommand("info", "print counts, image shape and classes");
  static std::string name = "fashion-mnist", root;
  info->add_option("--dataset", name, "fashion-mnist, mnist, cifar10, cifar100, image-folder");
  info->add_option("--root", root, "data directory (default: the data set's standard place)");
  info->callback([] { std::cout << "TODO " << name << "\n"; });
}
}  // namespace selfsup::cli
