#include "platform/consensus/ordering/simulation/seed_range.h"

#include <cstdlib>

#include "absl/strings/numbers.h"

namespace resdb {
namespace simulation {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  uint64_t parsed = 0;
  if (value == nullptr || !absl::SimpleAtoi(value, &parsed)) return fallback;
  return parsed;
}

}  // namespace

SeedRange SeedRangeFromEnv(const char* count_var, const char* single_var, uint64_t default_count) {
  SeedRange range;
  range.count = EnvOr(count_var, default_count);
  if (std::getenv(single_var) != nullptr) {
    range.single = true;
    range.first = EnvOr(single_var, 1);
    range.count = 1;
  }
  return range;
}

}  // namespace simulation
}  // namespace resdb
