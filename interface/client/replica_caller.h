#ifndef INTERFACE_CLIENT_REPLICA_CALLER_H_
#define INTERFACE_CLIENT_REPLICA_CALLER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "platform/proto/resdb.pb.h"

namespace resdb {

// The result data of a call, and who vouches for it ("replica 1 at <address>", "replicas 1,
// 2"), so that a caller that cannot parse the data can say whose it was.
struct ReplicaAnswer {
  std::string data;
  std::string from;
};

// How a client asks the replicas one request: the protocol decides whom to ask, which answers
// to trust and what to retry. One implementation per consensus protocol (NewReplicaCaller
// picks it by the config). Every send and retry of a call carries the same Request, so
// replicas apply a retried write once.
//
// Errors of the transport and the replica, whatever the protocol:
//   NO_LEADER                -> UnavailableError ("no leader ..., last known leader ...")
//   TIMEOUT, deadline passed -> DeadlineExceededError naming the timeout
//   INVALID_REQUEST          -> InvalidArgumentError
//   UNIMPLEMENTED            -> UnimplementedError with the replica's text
//   INTERNAL                 -> InternalError
//   unreachable replica      -> UnavailableError naming the replica's address and gRPC's message
//   PERMISSION_DENIED        -> PermissionDeniedError (RAFT)
//   TLS files not readable   -> the error naming the file (see the config's `tls`)
//
// Implementations are thread-safe: calls may run concurrently.
class ReplicaCaller {
 public:
  virtual ~ReplicaCaller() = default;

  // This client's identity, to be set in every Request it sends (non-zero).
  virtual uint64_t client_id() const = 0;

  // Sends `request` (a TYPE_CLIENT_REQUEST with client_id, request_id and data set; the
  // caller adds what its protocol requires, such as the client's signature) and returns the
  // data of the answer the protocol trusts, within `timeout_ms`, retries included.
  virtual absl::StatusOr<ReplicaAnswer> Call(Request request, int timeout_ms) = 0;

  // The replica believed to lead (PBFT: the primary most of the agreeing replicas named), 0
  // when unknown.
  virtual int64_t leader_id() const = 0;
};

}  // namespace resdb

#endif  // INTERFACE_CLIENT_REPLICA_CALLER_H_
