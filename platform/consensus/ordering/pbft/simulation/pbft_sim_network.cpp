#include "platform/consensus/ordering/pbft/simulation/pbft_sim_network.h"

#include <algorithm>

namespace resdb {
namespace pbft {
namespace simulation {

PbftSimNetwork::PbftSimNetwork(uint64_t seed) : rng_(seed) {}

void PbftSimNetwork::Send(Envelope envelope, int64_t now) {
  ++stats_.sent;
  // Both draws are always made, so changing one rate does not shift later random choices.
  const double drop_draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  const double dup_draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  if (drop_draw < options_.drop_rate) {
    ++stats_.dropped;
    return;
  }
  if (dup_draw < options_.duplicate_rate) {
    ++stats_.duplicated;
    Enqueue(envelope, now);
  }
  Enqueue(envelope, now);
}

void PbftSimNetwork::Enqueue(const Envelope& envelope, int64_t now) {
  const int64_t lo = std::max<int64_t>(1, options_.min_delay);
  const int64_t hi = std::max(lo, options_.max_delay);
  int64_t delay = std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  if (options_.long_delay_rate > 0 &&
      std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < options_.long_delay_rate) {
    delay = std::uniform_int_distribution<int64_t>(hi, std::max(hi, options_.long_delay_max))(rng_);
  }
  heap_.push_back(Queued{now + delay, next_order_++, envelope});
  std::push_heap(heap_.begin(), heap_.end(), Later);
}

std::optional<std::pair<int64_t, Envelope>> PbftSimNetwork::PopDue(int64_t deadline) {
  while (!heap_.empty() && heap_.front().at <= deadline) {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    Queued next = std::move(heap_.back());
    heap_.pop_back();
    if (!LinkUp(next.envelope.from, next.envelope.to)) {
      ++stats_.cut;
      continue;
    }
    ++stats_.delivered;
    return std::make_pair(next.at, std::move(next.envelope));
  }
  return std::nullopt;
}

void PbftSimNetwork::Isolate(int64_t node, const std::vector<int64_t>& all_nodes) {
  for (int64_t other : all_nodes) {
    if (other == node) continue;
    CutLink(node, other);
    CutLink(other, node);
  }
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
