#include "commands.h"

namespace selfsup::cli {
void register_augment(CLI::App& app) {
  auto* aug = app.add_subcommand("augment", "inspect augmentation pipelines");
  aug->require_subcommand(1);
}
}  // namespace selfsup::cli
