#include "commands.h"

namespace selfsup::cli {
void register_train(CLI::App& app) {}
}  // namespace selfsup::cli
