#include <iostream>

#include "commands.h"
#include "selfsup/data/dataset.h"

namespace selfsup::cli {
void register_data(CLI::App& app) {
  auto* data = app.add_subcommand("data", "inspect data sets");
  data->require_subcommand(1);
  auto* info = data->add_subcommand("info", "print counts, image shape and classes");
  static std::string name = "fashion-mnist", root;
  info->add_option("--dataset", name, "fashion-mnist, mnist, cifar10, cifar100, image-folder");
  info->add_option("--root", root, "data directory (default: the data set's standard place)");
  // Errors propagate to main(), which prints "error: <message>" and exits non-zero.
  info->callback([] { std::cout << selfsup::data::describe(selfsup::data::load_dataset(name, root)); });
}
}  // namespace selfsup::cli
