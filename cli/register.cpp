#include "commands.h"

namespace selfsup::cli {
void register_all(CLI::App& app) {
  register_data(app);
  register_augment(app);
  register_train(app);
  register_weights(app);
  register_report(app);
  register_active(app);
  register_weak(app);
  register_denoise(app);
  register_tune(app);
  register_cotrain(app);
  register_text(app);
}
}  // namespace selfsup::cli
