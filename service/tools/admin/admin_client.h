#ifndef SERVICE_TOOLS_ADMIN_ADMIN_CLIENT_H_
#define SERVICE_TOOLS_ADMIN_ADMIN_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/config/resdb_config.h"
#include "platform/proto/replica_info.pb.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {

// Sends `request` to one replica in one unary ResDBService.Call (`what` names the request in
// errors, e.g. "status request") and returns the replica's Response whatever its status.
// `config` is the client config: its TLS settings secure the channel (the replica must
// present a certificate naming it) and its max_message_bytes bounds the messages of the call
// (<= 0: gRPC's own limits are lifted);
// `timeout` bounds the whole call, connection set-up included, and must be positive
// (InvalidArgumentError otherwise). Transport errors, naming the replica as
// "replica <id> at <ip>:<port>":
//   unreachable replica, transport failure  -> UnavailableError with gRPC's message
//   no answer within `timeout`              -> DeadlineExceededError naming the timeout
//   the replica does not serve Call         -> UnimplementedError
//   TLS files that cannot be read           -> the error naming the file
absl::StatusOr<Response> CallReplica(const ReplicaInfo& replica, const Request& request,
                                     const std::string& what, const ResDBConfig& config,
                                     std::chrono::milliseconds timeout);

// The error a non-OK `response` of `who` to a `what` stands for (OK for an OK response):
//   UNIMPLEMENTED -> UnimplementedError, INVALID_REQUEST -> InvalidArgumentError,
//   NO_LEADER / UNAVAILABLE -> UnavailableError, TIMEOUT -> DeadlineExceededError,
//   PERMISSION_DENIED -> PermissionDeniedError, INTERNAL and other statuses -> InternalError.
absl::Status ResponseError(const std::string& who, const std::string& what,
                           const Response& response);

// "replica <id> at <ip>:<port>".
std::string DescribeReplica(const ReplicaInfo& replica);

// Asks one replica for its ReplicaStatus: one unary ResDBService.Call carrying
// Request{type = TYPE_STATUS} in a ResDBMessage, answered by a Response{status = OK, data =
// serialized ReplicaStatus}.
//
// `config` secures and bounds the call as for CallReplica; `timeout` bounds the whole call,
// connection set-up included, and must be positive.
//
// A status that leaves `id` 0 gets the replica's configured id. Every error message names the
// replica as "replica <id> at <ip>:<port>":
//   unreachable replica, transport failure  -> UnavailableError with gRPC's message
//   no answer within `timeout`              -> DeadlineExceededError naming the timeout
//   Response UNIMPLEMENTED                  -> UnimplementedError
//   Response INVALID_REQUEST                -> InvalidArgumentError
//   Response NO_LEADER / UNAVAILABLE        -> UnavailableError
//   Response TIMEOUT                        -> DeadlineExceededError
//   Response PERMISSION_DENIED              -> PermissionDeniedError
//   Response INTERNAL, other statuses       -> InternalError
//   data that is not a ReplicaStatus        -> InternalError
//   a status whose id names another replica -> FailedPreconditionError (the config points at
//                                              the wrong process)
//
// Thread-safe; each call uses its own channel.
absl::StatusOr<ReplicaStatus> GetReplicaStatus(const ReplicaInfo& replica,
                                               const ResDBConfig& config,
                                               std::chrono::milliseconds timeout);

// One replica of the config and what asking it for its status gave.
using ReplicaStatusResult = std::pair<ReplicaInfo, absl::StatusOr<ReplicaStatus>>;

// Asks every replica of `config` for its status in parallel (one thread per replica), each
// call bounded by `timeout`, so the whole call takes about `timeout` at most. The results are
// in config order, one per replica. Uses the config's max_message_bytes.
std::vector<ReplicaStatusResult> GetClusterStatus(const ResDBConfig& config,
                                                  std::chrono::milliseconds timeout);

}  // namespace resdb

#endif  // SERVICE_TOOLS_ADMIN_ADMIN_CLIENT_H_
