#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_PROPOSAL_TRACKER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_PROPOSAL_TRACKER_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "platform/consensus/ordering/raft/proto/raft.pb.h"

namespace resdb {
namespace raft {

// The simulated clients' view of their proposals. Every proposal carries a unique payload,
// so an applied entry identifies the proposal it came from.
//
// A proposal accepted by Propose() is pending until one of:
//  - acknowledged: the node instance that accepted it applied it (the server answers the
//    client then);
//  - dropped: that instance reported it in Ready::dropped_proposals;
//  - orphaned: that instance crashed first (the client times out; the entry may still
//    commit, and is then counted as committed).
// Rejected proposals (Propose() returned an error) never enter the log.
class ProposalTracker {
 public:
  enum class State { kPending, kAcked, kDropped, kOrphaned };

  struct Proposal {
    std::string payload;
    int64_t node = 0;
    uint64_t incarnation = 0;
    uint64_t index = 0;  // as returned by Propose()
    uint64_t term = 0;   // the proposer's term when it accepted
    State state = State::kPending;
    // Index at which the payload was first applied by any node; 0 if never.
    uint64_t applied_index = 0;
  };

  struct Counts {
    uint64_t submitted = 0;
    uint64_t rejected = 0;
    uint64_t no_leader = 0;
    uint64_t accepted = 0;
    uint64_t acked = 0;
    uint64_t dropped = 0;
    uint64_t orphaned = 0;
    uint64_t pending = 0;
    uint64_t committed = 0;  // applied by some node, whatever the client was told
  };

  // A payload no earlier call returned.
  std::string NextPayload();

  void OnNoLeader();
  void OnRejected();
  void OnAccepted(const std::string& payload, int64_t node, uint64_t incarnation, uint64_t index,
                  uint64_t term);

  // `node` (instance `incarnation`) applied `entry`. Returns a description of a broken
  // guarantee, or an empty string: a payload applied at two different indexes, or a pending
  // proposal of this instance replaced at its index by another entry without being reported
  // dropped. A proposal reported dropped may still be applied: its outcome was unknown.
  std::string OnApplied(int64_t node, uint64_t incarnation, const Entry& entry);

  // Ready::dropped_proposals of `node` instance `incarnation`. Returns a description of a
  // broken guarantee, or "": an id that names no pending proposal of that instance, or a
  // proposal already committed at its index, which no leader can have overwritten. With
  // `by_snapshot` (the Ready restored a snapshot that the node's log disagreed with) the
  // latter is allowed: the node cannot tell which of its entries below the snapshot were
  // committed, so it reports every uncommitted one of its proposals as unknown.
  std::string OnDropped(int64_t node, uint64_t incarnation, uint64_t index,
                        const std::string& reason, bool by_snapshot = false);

  // The instance crashed: its pending proposals become orphaned.
  void OnCrash(int64_t node, uint64_t incarnation);

  size_t pending() const { return pending_.size(); }
  // Pending proposals accepted by any instance of `node`.
  size_t pending(int64_t node) const;
  // The highest index of an acknowledged proposal: a client that saw this acknowledgement
  // must see the entry in any linearizable read it starts afterwards.
  uint64_t max_acked_index() const { return max_acked_index_; }
  Counts counts() const;
  const std::vector<Proposal>& proposals() const { return proposals_; }

 private:
  uint64_t next_payload_ = 1;
  std::vector<Proposal> proposals_;
  std::map<std::string, size_t> by_payload_;
  // (node, incarnation, index) -> proposal position, for pending proposals.
  std::map<std::tuple<int64_t, uint64_t, uint64_t>, size_t> pending_;
  uint64_t max_acked_index_ = 0;
  uint64_t no_leader_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_PROPOSAL_TRACKER_H_
