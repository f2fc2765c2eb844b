#include "platform/consensus/ordering/raft/leadership_transfer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace resdb {
namespace raft {

void LeadershipTransfer::Start(int64_t to, std::unique_ptr<Context> context,
                               Clock::time_point now) {
  if (pending_.has_value()) {
    context->Reply(
        respond_(Response::UNAVAILABLE, absl::StrCat("a leadership transfer to ", pending_->to,
                                                     " is in progress; try again when it ends")));
    return;
  }
  if (node_->role() != Role::kLeader) {
    context->Reply(
        respond_(Response::NO_LEADER,
                 absl::StrCat("replica ", self_id_, " is not the leader; ask the leader")));
    return;
  }
  if (to == self_id_) {
    context->Reply(respond_(Response::OK, "already the leader"));
    return;
  }
  absl::Status started = node_->TransferLeadership(to);
  if (!started.ok()) {
    context->Reply(
        respond_(Response::INVALID_REQUEST,
                 absl::StrCat("cannot transfer leadership to ", to, ": ", started.message())));
    return;
  }
  LOG(INFO) << "raft replica " << self_id_ << ": transferring leadership to " << to;
  pending_ = Pending{to, std::move(context), now + timeout_};
}

void LeadershipTransfer::Check(Clock::time_point now) {
  if (!pending_.has_value()) return;
  const int64_t to = pending_->to;
  std::optional<Response> answer;
  if (node_->leader_id() == to) {
    answer = respond_(Response::OK, absl::StrCat("replica ", to, " leads in term ", node_->term()));
  } else if (node_->role() == Role::kLeader && node_->lead_transferee() == 0) {
    answer = respond_(
        Response::TIMEOUT,
        absl::StrCat("replica ", to, " did not take over within an election timeout; replica ",
                     self_id_, " still leads"));
  } else if (now >= pending_->deadline) {
    answer = respond_(
        Response::TIMEOUT,
        absl::StrCat("replica ", to, " was not seen leading within ", timeout_.count(), " ms"));
  }
  if (!answer.has_value()) return;
  pending_->context->Reply(*answer);
  pending_.reset();
}

void LeadershipTransfer::Abort(const Response& response) {
  if (!pending_.has_value()) return;
  pending_->context->Reply(response);
  pending_.reset();
}

}  // namespace raft
}  // namespace resdb
