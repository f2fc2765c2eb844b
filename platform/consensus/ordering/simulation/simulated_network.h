#ifndef PLATFORM_CONSENSUS_ORDERING_SIMULATION_SIMULATED_NETWORK_H_
#define PLATFORM_CONSENSUS_ORDERING_SIMULATION_SIMULATED_NETWORK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace resdb {
namespace simulation {

// How the simulated network treats each message. Times are in the simulation's own units.
struct NetworkOptions {
  // Every copy of a message is delivered after a delay drawn uniformly from
  // [min_delay, max_delay]; distinct delays reorder messages.
  int64_t min_delay = 1;
  int64_t max_delay = 10;
  // Probability that a copy is held back much longer instead, with a delay drawn from
  // [max_delay, long_delay_max]: it arrives long after newer traffic (e.g. in a later term
  // or view).
  double long_delay_rate = 0.0;
  int64_t long_delay_max = 0;
  // Probability that a message is lost when sent.
  double drop_rate = 0.0;
  // Probability that a sent message is delivered twice (each copy with its own delay).
  double duplicate_rate = 0.0;
};

struct NetworkStats {
  uint64_t sent = 0;
  uint64_t dropped = 0;     // lost at send time (drop_rate)
  uint64_t cut = 0;         // lost at delivery time because the link was cut
  uint64_t duplicated = 0;  // extra copies queued
  uint64_t long_delayed = 0;
  uint64_t delivered = 0;
};

// The part of SimulatedNetwork that does not depend on the message type: random draws, link
// cuts and counters.
class NetworkModel {
 public:
  explicit NetworkModel(uint64_t seed) : rng_(seed) {}

  void set_options(const NetworkOptions& options) { options_ = options; }
  const NetworkOptions& options() const { return options_; }

  void CutLink(int64_t from, int64_t to) { cut_.insert({from, to}); }
  void RestoreLink(int64_t from, int64_t to) { cut_.erase({from, to}); }
  bool LinkUp(int64_t from, int64_t to) const { return cut_.count({from, to}) == 0; }
  // Cuts every link into and out of `node`.
  void Isolate(int64_t node, const std::vector<int64_t>& all_nodes);
  // Replaces all cuts: nodes in different groups cannot reach each other in either direction.
  // A node listed in no group is isolated.
  void Partition(const std::vector<std::vector<int64_t>>& groups,
                 const std::vector<int64_t>& all_nodes);
  // Restores every link.
  void HealLinks() { cut_.clear(); }
  const std::set<std::pair<int64_t, int64_t>>& cut_links() const { return cut_; }

  const NetworkStats& stats() const { return stats_; }

 protected:
  // How many copies a sent message gets (0, 1 or 2), counting the send.
  int CopiesOfSend();
  // The delay of one copy.
  int64_t DrawDelay();

  NetworkStats stats_;

 private:
  NetworkOptions options_;
  std::mt19937_64 rng_;
  std::set<std::pair<int64_t, int64_t>> cut_;
};

// A deterministic message network between simulated replicas: one process, no threads, no
// clock. Every random choice comes from the PRNG seeded at construction, so the same seed
// and the same sequence of calls deliver the same messages at the same times.
//
// Links are directed: CutLink(a, b) stops a -> b while b -> a may still work. A link is
// checked when a message is delivered, so messages in flight when a partition starts are
// lost and those in flight when it heals arrive.
//
// `Message` has int64_t fields `from` and `to` and is copyable.
template <typename Message>
class SimulatedNetwork : public NetworkModel {
 public:
  explicit SimulatedNetwork(uint64_t seed) : NetworkModel(seed) {}

  // Queues `message` (from message.from to message.to) for delivery at now + delay, unless
  // the drop draw loses it; may queue a duplicate.
  void Send(Message message, int64_t now) {
    const int copies = CopiesOfSend();
    if (copies == 2) Enqueue(message, now);
    if (copies >= 1) Enqueue(std::move(message), now);
  }

  // The earliest queued message due at or before `deadline` whose link is up, removed from
  // the queue together with any earlier messages lost on cut links. Messages due at the
  // same time leave in the order they were queued. nullopt if none is due.
  std::optional<std::pair<int64_t, Message>> PopDue(int64_t deadline) {
    while (!queue_.empty() && queue_.begin()->first.first <= deadline) {
      auto it = queue_.begin();
      const int64_t at = it->first.first;
      Message message = std::move(it->second);
      queue_.erase(it);
      if (!LinkUp(message.from, message.to)) {
        ++stats_.cut;
        continue;
      }
      ++stats_.delivered;
      return std::make_pair(at, std::move(message));
    }
    return std::nullopt;
  }

  size_t in_flight() const { return queue_.size(); }

 private:
  void Enqueue(Message message, int64_t now) {
    queue_.emplace(std::make_pair(now + DrawDelay(), next_sequence_++), std::move(message));
  }

  uint64_t next_sequence_ = 0;
  // (delivery time, queue order) -> message.
  std::map<std::pair<int64_t, uint64_t>, Message> queue_;
};

}  // namespace simulation
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_SIMULATION_SIMULATED_NETWORK_H_
