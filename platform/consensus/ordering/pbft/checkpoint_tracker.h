#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_CHECKPOINT_TRACKER_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_CHECKPOINT_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "platform/consensus/ordering/pbft/pbft.pb.h"

namespace resdb {
namespace pbft {

// Proof that a checkpoint is stable: the CHECKPOINT messages of a quorum of distinct replicas,
// as they signed them, that all reported `digest` as the state at `seq`. At start-up the
// stable checkpoint is the genesis: seq 0, empty digest, no messages.
using CheckpointProof = StableCheckpoint;

// Collects CHECKPOINT messages and decides when a checkpoint becomes stable.
//
// Rules:
// - Checkpoints are taken every `checkpoint_interval` sequence numbers: a seq that is 0 or
//   not a multiple of the interval is refused.
// - A seq at or below the current stable checkpoint is refused (already settled), and so is
//   one more than `max_ahead` above it, which bounds the state a faulty replica can make us
//   hold (pass PbftConfig.watermark_window; 0 means no bound).
// - Each sender has one vote per seq: repeats are ignored, a different digest for the same
//   seq marks the sender as conflicting and is not counted.
// - A checkpoint becomes stable when `threshold` (2f+1) senders report the same digest for
//   the same seq and that seq is above the current stable one. The tracker then keeps the
//   proof of that checkpoint and drops every pending vote at or below it.
//
// Not thread-safe; the owner serialises calls.
class CheckpointTracker {
 public:
  CheckpointTracker(uint64_t checkpoint_interval, size_t threshold, uint64_t max_ahead = 0);

  // Records `sender`'s CHECKPOINT for (seq, digest); `signed_checkpoint` is that message as
  // its sender signed it, kept in the proof. Returns the new stable seq if this message made
  // the stable checkpoint advance, std::nullopt otherwise.
  std::optional<uint64_t> Add(uint64_t seq, const std::string& digest, int64_t sender,
                              const SignedMessage& signed_checkpoint = SignedMessage());

  // Takes `proof` as the stable checkpoint when it is above the current one, as a replica does
  // when it restarts from its records or learns the checkpoint from f+1 peers; pending votes
  // at or below it are dropped.
  void AdoptStable(CheckpointProof proof);

  uint64_t stable_seq() const { return stable_.seq(); }
  const std::string& stable_digest() const { return stable_.digest(); }
  const CheckpointProof& stable_proof() const { return stable_; }

  // Matching votes held for (seq, digest) above the stable checkpoint.
  size_t MatchingVotes(uint64_t seq, const std::string& digest) const;
  // Senders seen reporting two different digests for `seq`, ascending.
  std::vector<int64_t> ConflictingSenders(uint64_t seq) const;
  // Number of sequence numbers with pending (not yet stable) votes.
  size_t pending_seq_count() const { return pending_.size(); }

  // Running totals, for metrics.
  uint64_t refused_count() const { return refused_; }
  uint64_t conflict_count() const { return conflicts_; }

 private:
  struct Pending {
    std::map<int64_t, std::string> digest_of;
    // digest -> the senders' signed CHECKPOINTs, in arrival order.
    std::map<std::string, std::vector<SignedMessage>> votes;
    std::set<int64_t> conflicting;
  };

  bool Acceptable(uint64_t seq, const std::string& digest) const;

  uint64_t interval_;
  size_t threshold_;
  uint64_t max_ahead_;
  CheckpointProof stable_;
  std::map<uint64_t, Pending> pending_;
  uint64_t refused_ = 0;
  uint64_t conflicts_ = 0;
};

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_CHECKPOINT_TRACKER_H_
