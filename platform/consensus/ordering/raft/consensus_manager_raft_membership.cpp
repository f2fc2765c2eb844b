// ConsensusManagerRaft: keeping peers, status and client admission in step with the
// membership the RaftNode knows. Membership changes themselves are MembershipCoordinator's.

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "platform/consensus/ordering/raft/consensus_manager_raft.h"

namespace resdb {

void ConsensusManagerRaft::OpenMembership() {
  auto respond = [this](Response::Status status, const std::string& error) {
    return MakeResponse(status, error);
  };
  transfer_ = std::make_unique<raft::LeadershipTransfer>(self_id_, raft::TransferTimeout(config()),
                                                         node_.get(), respond);
  membership_ = std::make_unique<raft::MembershipCoordinator>(
      raft::MembershipOptionsFrom(config()), node_.get(), respond,
      [this](int64_t id, const std::string& address) { GetCommunicator()->AddPeer(id, address); });
}

bool ConsensusManagerRaft::RefuseIfNotMember(Context* context) {
  const raft::MemberState state = published_membership_.state();
  if (state != raft::MemberState::kRemoved && state != raft::MemberState::kJoining) return false;
  context->Reply(
      NoLeaderResponse(absl::StrCat("replica ", self_id_, " is not a member of the cluster (",
                                    raft::MemberStateName(state), "); ask another replica")));
  return true;
}

void ConsensusManagerRaft::SyncMembership() {
  const std::optional<raft::PublishedMembership::Change> change =
      published_membership_.Sync(*node_);
  if (!change.has_value()) return;
  const raft::Membership& membership = node_->membership();
  for (const auto* ids : {&membership.voters(), &membership.learners()}) {
    for (int64_t id : *ids) {
      if (id == self_id_ || GetCommunicator()->HasPeer(id)) continue;
      const std::string address = membership_->AddressOf(id, membership);
      if (address.empty()) {
        LOG(WARNING) << "raft replica " << self_id_ << ": no address known for member " << id;
        continue;
      }
      GetCommunicator()->AddPeer(id, address);
    }
  }
  LOG_IF(INFO, change->changed) << "raft replica " << self_id_ << ": membership "
                                << raft::DescribeMembership(membership) << " (index "
                                << node_->membership_index()
                                << "), this replica: " << raft::MemberStateName(change->current);
  if (change->current == raft::MemberState::kRemoved &&
      change->previous != raft::MemberState::kRemoved) {
    // This replica will apply nothing more: the writes waiting here are answered now, and
    // their clients retry elsewhere with the same request ids.
    sessions_->FailAll(NoLeaderResponse(
        absl::StrCat("replica ", self_id_, " was removed from the cluster; ask another replica")));
  }
}

bool ConsensusManagerRaft::IsReplicaMember(int64_t id) {
  const std::optional<bool> member = published_membership_.IsOtherMember(id);
  return member.has_value() ? *member : ConsensusManager::IsReplicaMember(id);
}

}  // namespace resdb
