#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_QUORUM_COLLECTOR_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_QUORUM_COLLECTOR_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "platform/consensus/ordering/pbft/watermarks.h"

namespace resdb {
namespace pbft {

// Counts the votes of one PBFT phase (one instance for PREPARE, another for COMMIT) per
// (view, seq, digest) and says when a quorum of matching votes exists.
//
// Rules:
// - Each sender has one vote per (view, seq): the first one it casts. Repeating that vote
//   is a duplicate and is ignored. Voting for a different digest at the same (view, seq)
//   marks the sender as conflicting (evidence of a faulty replica); the second vote is not
//   counted anywhere.
// - Add() returns true exactly once per (view, seq, digest): when the number of matching
//   votes first reaches the threshold (2f+1 for PBFT).
// - Only sequence numbers inside the watermarks are accepted, so the state held is bounded
//   by the window times the number of views and senders. GarbageCollect() drops everything
//   at or below a sequence number, and such sequence numbers are refused from then on.
// - Votes are expected to have passed MessageValidator (known sender, current view), which
//   is what bounds the senders and views held per sequence number.
//
// Not thread-safe; the owner serialises calls.
class QuorumCollector {
 public:
  // `watermarks` is not owned and must outlive the collector.
  QuorumCollector(size_t threshold, const Watermarks* watermarks);

  // Records `sender`'s vote for `digest` at (view, seq). Returns true iff this vote makes
  // the matching votes reach the threshold for the first time. Returns false for a vote that
  // is refused (seq outside the watermarks or already collected, empty digest), a duplicate,
  // a conflicting vote, or one that does not complete a quorum.
  bool Add(uint64_t view, uint64_t seq, const std::string& digest, int64_t sender);

  // Matching votes counted for (view, seq, digest).
  size_t MatchingVotes(uint64_t view, uint64_t seq, const std::string& digest) const;
  // True once MatchingVotes() has reached the threshold.
  bool HasQuorum(uint64_t view, uint64_t seq, const std::string& digest) const;
  // Senders whose votes were counted for (view, seq, digest), in arrival order (the
  // members of a prepared / committed certificate).
  std::vector<int64_t> Voters(uint64_t view, uint64_t seq, const std::string& digest) const;
  // Senders seen voting for two different digests at (view, seq), in ascending order.
  std::vector<int64_t> ConflictingSenders(uint64_t view, uint64_t seq) const;

  // Drops the state of every seq <= up_to_seq and refuses those seqs afterwards.
  void GarbageCollect(uint64_t up_to_seq);

  size_t threshold() const { return threshold_; }
  // Number of (view, seq) slots currently held.
  size_t slot_count() const;

  // Running totals, for metrics.
  uint64_t refused_count() const { return refused_; }
  uint64_t duplicate_count() const { return duplicates_; }
  uint64_t conflict_count() const { return conflicts_; }

 private:
  struct Slot {
    // Each sender's first (and only counted) vote.
    std::map<int64_t, std::string> vote_of;
    // digest -> senders counted for it, in arrival order.
    std::map<std::string, std::vector<int64_t>> voters;
    std::set<int64_t> conflicting;
  };

  const Slot* FindSlot(uint64_t view, uint64_t seq) const;

  size_t threshold_;
  const Watermarks* watermarks_;
  // Everything at or below this seq has been collected.
  uint64_t collected_up_to_ = 0;
  // seq -> view -> slot, so that garbage collection removes a prefix.
  std::map<uint64_t, std::map<uint64_t, Slot>> slots_;
  uint64_t refused_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t conflicts_ = 0;
};

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_QUORUM_COLLECTOR_H_
