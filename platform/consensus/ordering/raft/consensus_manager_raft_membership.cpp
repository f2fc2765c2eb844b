// ConsensusManagerRaft: adding and removing replicas at run time, one server at a time.

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "platform/consensus/ordering/raft/consensus_manager_raft.h"
#include "platform/networkstrate/network_address.h"

namespace resdb {
namespace {

// "host:port" with a port in 1..65535.
bool ValidAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  int port = 0;
  return absl::SimpleAtoi(address.substr(colon + 1), &port) && port > 0 && port <= 65535;
}

}  // namespace

const char* ConsensusManagerRaft::MemberStateName(MemberState state) {
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

std::string ConsensusManagerRaft::AddressOf(int64_t id, const raft::Membership& membership) const {
  auto it = membership.addresses().find(id);
  if (it != membership.addresses().end()) return it->second;
  for (const ReplicaInfo& replica : config().GetReplicaInfos()) {
    if (replica.id() == id) return HostPort(replica.ip(), replica.port());
  }
  return "";
}

bool ConsensusManagerRaft::RefuseIfNotMember(Context* context) {
  const MemberState state = member_state_.load();
  if (state != MemberState::kRemoved && state != MemberState::kJoining) return false;
  context->Reply(
      NoLeaderResponse(absl::StrCat("replica ", self_id_, " is not a member of the cluster (",
                                    MemberStateName(state), "); ask another replica")));
  return true;
}

void ConsensusManagerRaft::StartMembershipChange(Work& work) {
  auto refuse = [&](Response::Status status, const std::string& why) {
    work.context->Reply(MakeResponse(status, why));
  };
  if (membership_change_.has_value()) {
    refuse(Response::UNAVAILABLE,
           absl::StrCat("a membership change for replica ", membership_change_->id,
                        " is in progress; try again when it ends"));
    return;
  }
  if (node_->role() != raft::Role::kLeader) {
    work.context->Reply(
        NoLeaderResponse(absl::StrCat("replica ", self_id_, " is not the leader; ask the leader")));
    return;
  }
  const AdminRequest& admin = work.admin;
  const raft::Membership& membership = node_->membership();
  PendingMembership pending;
  pending.request = admin;
  const int timeout_ms =
      admin.timeout_ms() > 0 ? admin.timeout_ms() : static_cast<int>(client_timeout_.count());
  pending.deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);

  if (admin.has_remove_replica()) {
    pending.id = admin.remove_replica().id();
    if (!raft::IsVoterOf(membership, pending.id) && !raft::IsLearnerOf(membership, pending.id)) {
      refuse(Response::INVALID_REQUEST, absl::StrCat("replica ", pending.id, " is not a member (",
                                                     raft::DescribeMembership(membership), ")"));
      return;
    }
    pending.step = raft::MembershipChange::kRemove;
  } else {
    const AddReplica& add = admin.add_replica();
    pending.id = add.id();
    if (pending.id <= 0) {
      refuse(Response::INVALID_REQUEST, "add-replica needs a positive replica id");
      return;
    }
    pending.address = add.address().empty() ? AddressOf(pending.id, membership) : add.address();
    if (!ValidAddress(pending.address)) {
      refuse(Response::INVALID_REQUEST,
             pending.address.empty()
                 ? absl::StrCat("replica ", pending.id,
                                " is not in the config file: give its address (host:port)")
                 : absl::StrCat("\"", pending.address, "\" is not a host:port address"));
      return;
    }
    bool in_config = false;
    for (const ReplicaInfo& replica : config().GetReplicaInfos()) {
      in_config |= replica.id() == pending.id;
    }
    if (config().GetConfigData().require_signatures() && !in_config) {
      refuse(Response::INVALID_REQUEST,
             absl::StrCat("require_signatures is on and replica ", pending.id,
                          " has no public key in the replicas' config files: list it there "
                          "and restart them first, or run without require_signatures"));
      return;
    }
    const bool voter = raft::IsVoterOf(membership, pending.id);
    const bool learner = raft::IsLearnerOf(membership, pending.id);
    if (voter || (learner && add.learner())) {
      work.context->Reply(MakeResponse(
          Response::OK,
          absl::StrCat("replica ", pending.id, " is already a ", voter ? "voter" : "learner", "; ",
                       raft::DescribeMembership(membership))));
      return;
    }
    pending.step =
        learner ? raft::MembershipChange::kAddVoter : raft::MembershipChange::kAddLearner;
    pending.catch_up_to = node_->last_index();
    GetCommunicator()->AddPeer(pending.id, pending.address);
  }
  LOG(INFO) << "raft replica " << self_id_ << ": membership change for replica " << pending.id
            << " requested (" << raft::MembershipChangeName(pending.step) << ")";
  pending.context = std::move(work.context);
  membership_change_ = std::move(pending);
  AdvanceMembershipChange(Clock::now());
}

bool ConsensusManagerRaft::CaughtUp(const PendingMembership& pending) const {
  const raft::Progress* progress = node_->progress(pending.id);
  if (progress == nullptr || progress->match() < pending.catch_up_to) return false;
  const uint64_t slack =
      static_cast<uint64_t>(std::max(1, config().GetRaftConfig().max_entries_per_append()));
  return progress->match() + slack >= node_->last_index();
}

void ConsensusManagerRaft::FinishMembershipChange(const Response& response) {
  LOG(INFO) << "raft replica " << self_id_ << ": membership change for replica "
            << membership_change_->id << " ended: " << Response::Status_Name(response.status())
            << " " << response.error();
  membership_change_->context->Reply(response);
  membership_change_.reset();
}

void ConsensusManagerRaft::AdvanceMembershipChange(Clock::time_point now) {
  if (!membership_change_.has_value()) return;
  PendingMembership& pending = *membership_change_;
  if (pending.index != 0) {
    if (node_->commit_index() >= pending.index) {
      if (node_->TermAt(pending.index) != pending.term) {
        FinishMembershipChange(
            MakeResponse(Response::UNAVAILABLE,
                         "the change was overwritten when leadership changed; try again"));
        return;
      }
      const bool promote_next = pending.step == raft::MembershipChange::kAddLearner &&
                                !pending.request.add_replica().learner();
      if (!promote_next) {
        FinishMembershipChange(MakeResponse(
            Response::OK,
            absl::StrCat(raft::MembershipChangeName(pending.step), " ", pending.id,
                         " committed at index ", pending.index, "; ",
                         raft::DescribeMembership(node_->MembershipAt(pending.index)))));
        return;
      }
      pending.step = raft::MembershipChange::kAddVoter;
      pending.index = 0;
      pending.catch_up_to = node_->last_index();
    } else if (node_->role() != raft::Role::kLeader) {
      FinishMembershipChange(NoLeaderResponse(absl::StrCat(
          "leadership moved before the change committed; its outcome is unknown: check "
          "resdb_admin status and repeat the command")));
      return;
    }
  }
  if (pending.index == 0) {
    if (node_->role() != raft::Role::kLeader) {
      FinishMembershipChange(NoLeaderResponse(
          absl::StrCat("replica ", self_id_, " lost leadership; ask the new leader")));
      return;
    }
    const bool ready = pending.step != raft::MembershipChange::kAddVoter || CaughtUp(pending);
    if (ready) {
      absl::StatusOr<uint64_t> index =
          node_->ProposeMembership(pending.step, pending.id, pending.address);
      if (index.ok()) {
        pending.index = *index;
        pending.term = node_->term();
      } else if (absl::IsAlreadyExists(index.status())) {
        FinishMembershipChange(MakeResponse(Response::OK, std::string(index.status().message())));
        return;
      } else if (!absl::IsFailedPrecondition(index.status())) {
        FinishMembershipChange(
            MakeResponse(Response::INVALID_REQUEST, std::string(index.status().message())));
        return;
      }
      // FailedPrecondition (an earlier change or this term's first entry not committed yet, a
      // transfer running): retried on the next round.
    }
  }
  if (now >= pending.deadline) {
    const bool waiting_for_catch_up =
        pending.index == 0 && pending.step == raft::MembershipChange::kAddVoter;
    FinishMembershipChange(MakeResponse(
        Response::TIMEOUT,
        waiting_for_catch_up
            ? absl::StrCat("replica ", pending.id,
                           " is a learner but did not catch up in time to be promoted; "
                           "is it running? Repeat the command to go on waiting")
            : absl::StrCat("the change for replica ", pending.id,
                           " did not commit in time; check resdb_admin status")));
  }
}

void ConsensusManagerRaft::SyncMembership() {
  if (node_->membership_version() == synced_membership_version_) return;
  synced_membership_version_ = node_->membership_version();
  const raft::Membership& membership = node_->membership();
  for (const auto* ids : {&membership.voters(), &membership.learners()}) {
    for (int64_t id : *ids) {
      if (id == self_id_ || GetCommunicator()->HasPeer(id)) continue;
      const std::string address = AddressOf(id, membership);
      if (address.empty()) {
        LOG(WARNING) << "raft replica " << self_id_ << ": no address known for member " << id;
        continue;
      }
      GetCommunicator()->AddPeer(id, address);
    }
  }
  MemberState state;
  if (raft::IsVoterOf(membership, self_id_)) {
    state = MemberState::kVoter;
  } else if (raft::IsLearnerOf(membership, self_id_)) {
    state = MemberState::kLearner;
  } else if (membership.voters_size() == 0) {
    state = MemberState::kJoining;
  } else {
    state = MemberState::kRemoved;
  }
  const MemberState previous = member_state_.exchange(state);
  bool changed;
  {
    std::lock_guard<std::mutex> lock(membership_mu_);
    changed =
        raft::DescribeMembership(published_membership_) != raft::DescribeMembership(membership) ||
        previous != state;
    published_membership_ = membership;
  }
  LOG_IF(INFO, changed) << "raft replica " << self_id_ << ": membership "
                        << raft::DescribeMembership(membership) << " (index "
                        << node_->membership_index()
                        << "), this replica: " << MemberStateName(state);
  if (state == MemberState::kRemoved && previous != MemberState::kRemoved) {
    // This replica will apply nothing more: the writes waiting here are answered now, and
    // their clients retry elsewhere with the same request ids.
    sessions_->FailAll(NoLeaderResponse(
        absl::StrCat("replica ", self_id_, " was removed from the cluster; ask another replica")));
  }
}

bool ConsensusManagerRaft::IsReplicaMember(int64_t id) {
  {
    std::lock_guard<std::mutex> lock(membership_mu_);
    if (published_membership_.voters_size() > 0) {
      return id != self_id_ && (raft::IsVoterOf(published_membership_, id) ||
                                raft::IsLearnerOf(published_membership_, id));
    }
  }
  return ConsensusManager::IsReplicaMember(id);
}

}  // namespace resdb
