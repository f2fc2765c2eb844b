#include "platform/consensus/ordering/raft/published_membership.h"

#include "platform/consensus/ordering/raft/membership.h"

namespace resdb {
namespace raft {

const char* MemberStateName(MemberState state) {
  switch (state) {
    case MemberState::kVoter:
      return "voter";
    case MemberState::kLearner:
      return "learner";
    case MemberState::kRemoved:
      return "removed";
    case MemberState::kJoining:
      return "joining";
  }
  return "unknown";
}

std::optional<PublishedMembership::Change> PublishedMembership::Sync(const RaftNode& node) {
  if (node.membership_version() == synced_version_) return std::nullopt;
  synced_version_ = node.membership_version();
  const Membership& membership = node.membership();
  Change change;
  if (IsVoterOf(membership, self_id_)) {
    change.current = MemberState::kVoter;
  } else if (IsLearnerOf(membership, self_id_)) {
    change.current = MemberState::kLearner;
  } else if (membership.voters_size() == 0) {
    change.current = MemberState::kJoining;
  } else {
    change.current = MemberState::kRemoved;
  }
  change.previous = state_.exchange(change.current);
  std::lock_guard<std::mutex> lock(mu_);
  change.changed = DescribeMembership(membership_) != DescribeMembership(membership) ||
                   change.previous != change.current;
  membership_ = membership;
  return change;
}

Membership PublishedMembership::membership() const {
  std::lock_guard<std::mutex> lock(mu_);
  return membership_;
}

std::optional<bool> PublishedMembership::IsOtherMember(int64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (membership_.voters_size() == 0) return std::nullopt;
  return id != self_id_ && (IsVoterOf(membership_, id) || IsLearnerOf(membership_, id));
}

}  // namespace raft
}  // namespace resdb
