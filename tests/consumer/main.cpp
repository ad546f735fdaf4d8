// Uses the installed library the way a C++ program would: a loss, a backbone, the registry.
#include <selfsup/losses/nt_xent.h>
#include <selfsup/methods/method.h>
#include <selfsup/nets/backbone.h>

#include <iostream>

int main() {
  auto z1 = torch::randn({8, 16}), z2 = torch::randn({8, 16});
  auto loss = selfsup::functional::nt_xent(z1, z2, selfsup::functional::NTXentOptions().temperature(0.5));
  auto net = selfsup::nets::make_backbone(selfsup::nets::BackboneOptions("convnet", 1, 28));
  auto f = net->forward(torch::rand({2, 1, 28, 28}));
  const auto methods = selfsup::methods::Registry::instance().list();
  std::cout << "loss " << loss.item<double>() << " features " << f.size(1) << " methods " << methods.size() << "\n";
  return (loss.item<double>() > 0 && f.size(1) == net->feature_dim() && methods.size() >= 8) ? 0 : 1;
}
