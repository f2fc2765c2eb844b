#include "interface/client/random_client_id.h"

#include <random>

namespace resdb {

uint64_t RandomClientId() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device());
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

}  // namespace resdb
