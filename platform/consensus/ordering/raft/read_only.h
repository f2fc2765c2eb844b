#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_READ_ONLY_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_READ_ONLY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

namespace resdb {
namespace raft {

// A linearizable read waiting for the leader to confirm its leadership.
struct ReadRequest {
  int64_t from = 0;      // the node that asked (the leader itself for a local read)
  uint64_t context = 0;  // the requester's own identifier of the read
  uint64_t index = 0;    // the leader's commit index when the read arrived
};

// ReadIndex bookkeeping on a leader (Raft thesis 6.4). Every request opens a new round;
// the leader's heartbeats carry the latest round, and a follower's answer to a heartbeat
// carrying round r shows that it still recognised the leader after every round <= r was
// opened. Once a majority of voters (the leader included) has answered round r or later,
// all requests of rounds <= r are confirmed. Round ids keep increasing across Reset().
class ReadOnly {
 public:
  // Registers a request; returns the round a heartbeat must carry to confirm it.
  uint64_t Add(int64_t from, uint64_t context, uint64_t index);

  // The latest round still waiting for confirmation, or 0 if none is.
  uint64_t last_pending_round() const;
  size_t pending_count() const { return pending_.size(); }

  // Records that `peer` answered a heartbeat carrying `round`. Returns, oldest first, the
  // requests that a majority of `voters` (with `self` always counted) has now confirmed.
  std::vector<ReadRequest> Ack(int64_t peer, uint64_t round, const std::vector<int64_t>& voters,
                               int64_t self);

  // Forgets every pending request and acknowledgement; returns the requests dropped.
  std::vector<ReadRequest> Reset();

 private:
  struct Pending {
    uint64_t round;
    ReadRequest request;
  };
  uint64_t next_round_ = 1;
  std::deque<Pending> pending_;
  std::map<int64_t, uint64_t> acked_round_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_READ_ONLY_H_
