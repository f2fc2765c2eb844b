#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_PUBLISHED_MEMBERSHIP_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_PUBLISHED_MEMBERSHIP_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>

#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_node.h"

namespace resdb {
namespace raft {

// What this replica is in the membership it knows.
enum class MemberState { kVoter, kLearner, kRemoved, kJoining };
const char* MemberStateName(MemberState state);

// The membership the raft thread last saw in its RaftNode, for the other threads (status,
// the transport's check of who may send, refusing clients on a replica that is not a member).
// Thread-safe.
class PublishedMembership {
 public:
  explicit PublishedMembership(int64_t self_id) : self_id_(self_id) {}

  struct Change {
    MemberState previous = MemberState::kVoter;
    MemberState current = MemberState::kVoter;
    // The membership or this replica's place in it changed.
    bool changed = false;
  };
  // Raft thread: publishes the node's membership if its version moved since the last call.
  std::optional<Change> Sync(const RaftNode& node);

  MemberState state() const { return state_.load(); }
  Membership membership() const;
  // Whether `id` is another voter or learner; nullopt before any membership is known (a
  // replica started with --join).
  std::optional<bool> IsOtherMember(int64_t id) const;

 private:
  const int64_t self_id_;
  uint64_t synced_version_ = 0;  // raft thread only
  std::atomic<MemberState> state_{MemberState::kVoter};
  mutable std::mutex mu_;
  Membership membership_;  // guarded by mu_
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_PUBLISHED_MEMBERSHIP_H_
