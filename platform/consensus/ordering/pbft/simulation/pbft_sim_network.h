#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_NETWORK_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_NETWORK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace pbft {
namespace simulation {

// How the network treats each copy of a message. Times are in simulated units (see
// PbftClusterSim::kUnitsPerTick).
struct NetworkOptions {
  // Delay drawn uniformly from [min_delay, max_delay]; distinct delays reorder messages.
  int64_t min_delay = 1;
  int64_t max_delay = 10;
  // Probability that a copy is held back for up to long_delay_max instead (it then arrives
  // after newer traffic, possibly in a later view).
  double long_delay_rate = 0.0;
  int64_t long_delay_max = 0;
  double drop_rate = 0.0;
  double duplicate_rate = 0.0;
};

struct NetworkStats {
  uint64_t sent = 0;
  uint64_t dropped = 0;  // lost at send time
  uint64_t cut = 0;      // lost at delivery time on a cut link
  uint64_t duplicated = 0;
  uint64_t delivered = 0;
};

// A message in flight. The copies of one broadcast share their Request.
struct Envelope {
  int64_t from = 0;
  int64_t to = 0;
  std::shared_ptr<const Request> message;
};

// A seeded message network between replicas: same seed and same calls, same deliveries.
// Links are directed and checked at delivery time, so messages in flight when a cut starts
// are lost and those in flight when it heals arrive.
class PbftSimNetwork {
 public:
  explicit PbftSimNetwork(uint64_t seed);

  void set_options(const NetworkOptions& options) { options_ = options; }
  const NetworkOptions& options() const { return options_; }

  void Send(Envelope envelope, int64_t now);
  // The earliest message due at or before `deadline` that survives its link; ties leave in
  // the order they were queued.
  std::optional<std::pair<int64_t, Envelope>> PopDue(int64_t deadline);

  void CutLink(int64_t from, int64_t to) { cut_.insert({from, to}); }
  bool LinkUp(int64_t from, int64_t to) const { return cut_.count({from, to}) == 0; }
  // Cuts every link into and out of `node`.
  void Isolate(int64_t node, const std::vector<int64_t>& all_nodes);
  void HealLinks() { cut_.clear(); }

  size_t in_flight() const { return heap_.size(); }
  const NetworkStats& stats() const { return stats_; }

 private:
  struct Queued {
    int64_t at = 0;
    uint64_t order = 0;
    Envelope envelope;
  };
  // Min-heap order on (delivery time, queue order).
  static bool Later(const Queued& a, const Queued& b) {
    return a.at != b.at ? a.at > b.at : a.order > b.order;
  }

  void Enqueue(const Envelope& envelope, int64_t now);

  NetworkOptions options_;
  std::mt19937_64 rng_;
  uint64_t next_order_ = 0;
  std::vector<Queued> heap_;
  std::set<std::pair<int64_t, int64_t>> cut_;
  NetworkStats stats_;
};

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_NETWORK_H_
