#include "platform/consensus/ordering/simulation/simulated_network.h"

#include <algorithm>

namespace resdb {
namespace simulation {

int NetworkModel::CopiesOfSend() {
  ++stats_.sent;
  // Draws are made in a fixed order whatever the options, so that changing one rate does not
  // shift every later random choice of the run.
  const double drop_draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  const double dup_draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  if (drop_draw < options_.drop_rate) {
    ++stats_.dropped;
    return 0;
  }
  if (dup_draw < options_.duplicate_rate) {
    ++stats_.duplicated;
    return 2;
  }
  return 1;
}

int64_t NetworkModel::DrawDelay() {
  const int64_t lo = std::max<int64_t>(1, options_.min_delay);
  const int64_t hi = std::max(lo, options_.max_delay);
  int64_t delay = std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  if (options_.long_delay_rate > 0 &&
      std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < options_.long_delay_rate) {
    ++stats_.long_delayed;
    delay = std::uniform_int_distribution<int64_t>(hi, std::max(hi, options_.long_delay_max))(rng_);
  }
  return delay;
}

void NetworkModel::Isolate(int64_t node, const std::vector<int64_t>& all_nodes) {
  for (int64_t other : all_nodes) {
    if (other == node) continue;
    CutLink(node, other);
    CutLink(other, node);
  }
}

void NetworkModel::Partition(const std::vector<std::vector<int64_t>>& groups,
                             const std::vector<int64_t>& all_nodes) {
  std::map<int64_t, size_t> group_of;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (int64_t node : groups[g]) group_of[node] = g;
  }
  cut_.clear();
  for (int64_t a : all_nodes) {
    for (int64_t b : all_nodes) {
      if (a == b) continue;
      auto ga = group_of.find(a);
      auto gb = group_of.find(b);
      if (ga == group_of.end() || gb == group_of.end() || ga->second != gb->second) {
        CutLink(a, b);
      }
    }
  }
}

}  // namespace simulation
}  // namespace resdb
