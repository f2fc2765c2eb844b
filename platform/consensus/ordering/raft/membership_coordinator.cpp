#include "platform/consensus/ordering/raft/membership_coordinator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace resdb {
namespace raft {
namespace {

// "host:port" with a port in 1..65535.
bool ValidAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  int port = 0;
  return absl::SimpleAtoi(address.substr(colon + 1), &port) && port > 0 && port <= 65535;
}

}  // namespace

MembershipCoordinator::MembershipCoordinator(Options options, RaftNode* node, RespondFn respond,
                                             AddPeerFn add_peer)
    : options_(std::move(options)),
      node_(node),
      respond_(std::move(respond)),
      add_peer_(std::move(add_peer)) {}

std::string MembershipCoordinator::AddressOf(int64_t id, const Membership& membership) const {
  auto it = membership.addresses().find(id);
  if (it != membership.addresses().end()) return it->second;
  auto configured = options_.configured.find(id);
  return configured == options_.configured.end() ? "" : configured->second;
}

Response MembershipCoordinator::NotLeader(const std::string& why) const {
  return respond_(Response::NO_LEADER, why);
}

std::optional<Response> MembershipCoordinator::PrepareAdd(const AddReplica& add,
                                                          Pending* pending) const {
  const Membership& membership = node_->membership();
  pending->id = add.id();
  if (pending->id <= 0) {
    return respond_(Response::INVALID_REQUEST, "add-replica needs a positive replica id");
  }
  pending->address = add.address().empty() ? AddressOf(pending->id, membership) : add.address();
  if (!ValidAddress(pending->address)) {
    return respond_(Response::INVALID_REQUEST,
                    pending->address.empty()
                        ? absl::StrCat("replica ", pending->id,
                                       " is not in the config file: give its address (host:port)")
                        : absl::StrCat("\"", pending->address, "\" is not a host:port address"));
  }
  if (options_.require_signatures && options_.configured.count(pending->id) == 0) {
    return respond_(Response::INVALID_REQUEST,
                    absl::StrCat("require_signatures is on and replica ", pending->id,
                                 " has no public key in the replicas' config files: list it there "
                                 "and restart them first, or run without require_signatures"));
  }
  const bool voter = IsVoterOf(membership, pending->id);
  const bool learner = IsLearnerOf(membership, pending->id);
  if (voter || (learner && add.learner())) {
    return respond_(Response::OK, absl::StrCat("replica ", pending->id, " is already a ",
                                               voter ? "voter" : "learner", "; ",
                                               DescribeMembership(membership)));
  }
  pending->step = learner ? MembershipChange::kAddVoter : MembershipChange::kAddLearner;
  pending->catch_up_to = node_->last_index();
  return std::nullopt;
}

void MembershipCoordinator::Start(const AdminRequest& request, std::unique_ptr<Context> context,
                                  Clock::time_point now) {
  if (pending_.has_value()) {
    context->Reply(respond_(Response::UNAVAILABLE,
                            absl::StrCat("a membership change for replica ", pending_->id,
                                         " is in progress; try again when it ends")));
    return;
  }
  if (node_->role() != Role::kLeader) {
    context->Reply(NotLeader(
        absl::StrCat("replica ", options_.self_id, " is not the leader; ask the leader")));
    return;
  }
  Pending pending;
  pending.request = request;
  pending.deadline =
      now + (request.timeout_ms() > 0 ? std::chrono::milliseconds(request.timeout_ms())
                                      : options_.default_timeout);
  if (request.has_remove_replica()) {
    const Membership& membership = node_->membership();
    pending.id = request.remove_replica().id();
    if (!IsVoterOf(membership, pending.id) && !IsLearnerOf(membership, pending.id)) {
      context->Reply(respond_(Response::INVALID_REQUEST,
                              absl::StrCat("replica ", pending.id, " is not a member (",
                                           DescribeMembership(membership), ")")));
      return;
    }
    pending.step = MembershipChange::kRemove;
  } else {
    if (std::optional<Response> answer = PrepareAdd(request.add_replica(), &pending)) {
      context->Reply(*answer);
      return;
    }
    add_peer_(pending.id, pending.address);
  }
  LOG(INFO) << "raft replica " << options_.self_id << ": membership change for replica "
            << pending.id << " requested (" << MembershipChangeName(pending.step) << ")";
  pending.context = std::move(context);
  pending_ = std::move(pending);
  Advance(now);
}

bool MembershipCoordinator::CaughtUp(const Pending& pending) const {
  const Progress* progress = node_->progress(pending.id);
  if (progress == nullptr || progress->match() < pending.catch_up_to) return false;
  return progress->match() + options_.catch_up_slack >= node_->last_index();
}

void MembershipCoordinator::Finish(const Response& response) {
  LOG(INFO) << "raft replica " << options_.self_id << ": membership change for replica "
            << pending_->id << " ended: " << Response::Status_Name(response.status()) << " "
            << response.error();
  pending_->context->Reply(response);
  pending_.reset();
}

void MembershipCoordinator::Abort(const Response& response) {
  if (!pending_.has_value()) return;
  pending_->context->Reply(response);
  pending_.reset();
}

void MembershipCoordinator::Advance(Clock::time_point now) {
  if (!pending_.has_value()) return;
  Pending& pending = *pending_;
  if (pending.index != 0) {
    if (node_->commit_index() >= pending.index) {
      if (node_->TermAt(pending.index) != pending.term) {
        Finish(respond_(Response::UNAVAILABLE,
                        "the change was overwritten when leadership changed; try again"));
        return;
      }
      const bool promote_next =
          pending.step == MembershipChange::kAddLearner && !pending.request.add_replica().learner();
      if (!promote_next) {
        Finish(respond_(Response::OK,
                        absl::StrCat(MembershipChangeName(pending.step), " ", pending.id,
                                     " committed at index ", pending.index, "; ",
                                     DescribeMembership(node_->MembershipAt(pending.index)))));
        return;
      }
      pending.step = MembershipChange::kAddVoter;
      pending.index = 0;
      pending.catch_up_to = node_->last_index();
    } else if (node_->role() != Role::kLeader) {
      Finish(
          NotLeader("leadership moved before the change committed; its outcome is unknown: check "
                    "resdb_admin status and repeat the command"));
      return;
    }
  }
  if (pending.index == 0) {
    if (node_->role() != Role::kLeader) {
      Finish(NotLeader(
          absl::StrCat("replica ", options_.self_id, " lost leadership; ask the new leader")));
      return;
    }
    if (pending.step != MembershipChange::kAddVoter || CaughtUp(pending)) {
      absl::StatusOr<uint64_t> index =
          node_->ProposeMembership(pending.step, pending.id, pending.address);
      if (index.ok()) {
        pending.index = *index;
        pending.term = node_->term();
      } else if (absl::IsAlreadyExists(index.status())) {
        Finish(respond_(Response::OK, std::string(index.status().message())));
        return;
      } else if (!absl::IsFailedPrecondition(index.status())) {
        Finish(respond_(Response::INVALID_REQUEST, std::string(index.status().message())));
        return;
      }
      // FailedPrecondition (an earlier change or this term's first entry not committed yet, a
      // transfer running): retried on the next round.
    }
  }
  if (now >= pending.deadline) {
    const bool waiting_for_catch_up =
        pending.index == 0 && pending.step == MembershipChange::kAddVoter;
    Finish(respond_(Response::TIMEOUT,
                    waiting_for_catch_up
                        ? absl::StrCat("replica ", pending.id,
                                       " is a learner but did not catch up in time to be "
                                       "promoted; is it running? Repeat the command to go on "
                                       "waiting")
                        : absl::StrCat("the change for replica ", pending.id,
                                       " did not commit in time; check resdb_admin status")));
  }
}

}  // namespace raft
}  // namespace resdb
