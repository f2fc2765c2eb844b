#include "platform/consensus/ordering/raft/raft_rpc.h"

#include "absl/strings/str_cat.h"

namespace resdb {
namespace raft {

Request RaftRpc::ToRequest(int64_t self_id, const RaftMessage& message) {
  Request request;
  request.set_type(Request::TYPE_CUSTOM_CONSENSUS);
  request.set_user_type(message.user_type);
  request.set_sender_id(self_id);
  request.set_data(message.SerializePayload());
  return request;
}

absl::StatusOr<RaftMessage> RaftRpc::FromRequest(int64_t self_id, const Request& request) {
  if (request.type() != Request::TYPE_CUSTOM_CONSENSUS) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a raft message: request type ", Request::Type_Name(request.type())));
  }
  if (request.sender_id() <= 0 || request.sender_id() == self_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("raft message with bad sender_id ", request.sender_id()));
  }
  return RaftMessage::Parse(request.sender_id(), self_id, request.user_type(), request.data());
}

bool RaftRpc::Send(const RaftMessage& message) {
  if (communicator_ == nullptr || message.user_type == 0) return false;
  return communicator_->SendMessage(ToRequest(self_id_, message), message.to);
}

}  // namespace raft
}  // namespace resdb
