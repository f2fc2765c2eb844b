#ifndef PLATFORM_CONSENSUS_ORDERING_SIMULATION_SEED_RANGE_H_
#define PLATFORM_CONSENSUS_ORDERING_SIMULATION_SEED_RANGE_H_

#include <cstdint>

namespace resdb {
namespace simulation {

// The seeds a simulation test runs: `default_count` seeds from 1; as many as the environment
// variable `count_var` says when it is set (long sweeps); only the seed in `single_var` when
// that one is set (to replay a failure a run printed).
struct SeedRange {
  uint64_t first = 1;
  uint64_t count = 0;
  bool single = false;
};

SeedRange SeedRangeFromEnv(const char* count_var, const char* single_var, uint64_t default_count);

}  // namespace simulation
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_SIMULATION_SEED_RANGE_H_
