#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_RECENT_PROPOSALS_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_RECENT_PROPOSALS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <set>
#include <utility>

namespace resdb {
namespace pbft {

// The (client_id, request_id) keys a primary proposed lately. Clients send each request to
// every replica, so the primary receives it from the client and again from backups that
// forward it; it orders one copy. Bounded: the oldest key is forgotten first, and a copy that
// arrives after that is ordered again (the applied-request table then executes it once).
// Not thread-safe (the protocol thread's).
class RecentProposals {
 public:
  explicit RecentProposals(size_t capacity) : capacity_(capacity) {}

  // Remembers the key; false if it was already remembered (a copy to drop).
  bool Add(uint64_t client_id, uint64_t request_id);
  // Forgets everything: a view change settles what an earlier view proposed.
  void Clear();
  size_t size() const { return order_.size(); }

 private:
  using Key = std::pair<uint64_t, uint64_t>;

  const size_t capacity_;
  std::set<Key> keys_;
  std::deque<Key> order_;  // oldest first
};

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_RECENT_PROPOSALS_H_
