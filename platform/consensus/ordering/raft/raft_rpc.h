#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_RPC_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_RPC_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/networkstrate/replica_communicator.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {
namespace raft {

// Carries RaftMessages between replicas as Request{type = TYPE_CUSTOM_CONSENSUS,
// user_type = RAFT_*, sender_id = self, data = serialized payload} over the shared
// ReplicaCommunicator (at most once, in order per peer while a stream stays up).
// Thread-safe as the communicator is.
class RaftRpc {
 public:
  // `communicator` must outlive this object; it may be null for the static helpers' sake,
  // then Send drops everything.
  RaftRpc(int64_t self_id, ReplicaCommunicator* communicator)
      : self_id_(self_id), communicator_(communicator) {}

  // Queues `message` for message.to. False when it could not be queued (unknown peer, full
  // queue, no payload).
  bool Send(const RaftMessage& message);

  // The Request that carries `message` from `self_id`.
  static Request ToRequest(int64_t self_id, const RaftMessage& message);

  // The RaftMessage carried by `request` (from = request.sender_id, to = self_id).
  // InvalidArgumentError for a Request that is not TYPE_CUSTOM_CONSENSUS, names no sender or
  // this replica as sender, or whose user_type / data do not parse.
  static absl::StatusOr<RaftMessage> FromRequest(int64_t self_id, const Request& request);

 private:
  const int64_t self_id_;
  ReplicaCommunicator* const communicator_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_RPC_H_
