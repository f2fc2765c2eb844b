#ifndef INTERFACE_KV_KV_CLIENT_H_
#define INTERFACE_KV_KV_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/config/resdb_config.h"
#include "service/kv/proto/kv.pb.h"

namespace resdb {

// A client of the replicated key-value service. Each call sends a Request{type =
// TYPE_CLIENT_REQUEST, data = serialized KVRequest} as unary gRPC `Call`s and is bounded by the
// client timeout (the config's client_timeout_ms unless SetTimeoutMs says otherwise). Every
// send and retry of a call carries the same client_id / request_id, so replicas apply a
// retried write once. How replicas are asked depends on the config's consensus_protocol.
//
// RAFT: one replica at a time. A call starts at the last replica known to lead (or that last
// answered), else the first replica of the config. A NO_LEADER answer with a leader hint sends
// the call to the hinted replica; NO_LEADER without a usable hint, UNAVAILABLE and transport
// failures move it to the next replica. After every replica has been tried once without an
// answer the client backs off briefly and goes round again, until the deadline.
//
// PBFT (also a config without consensus_protocol): up to f = (n-1)/3 replicas may lie, so no
// single answer is trusted. A call returns the first result that f+1 replicas agree on (same
// Response status and identical data bytes; at least one of them is correct); answers that
// disagree are outvoted, never returned. It goes first to f+1 replicas: the primary last named
// by agreeing replicas and others in rotation, avoiding those that recently failed to agree.
// It goes to every other replica as soon as one of those fails or two answers differ, or
// after three typical call latencies (20 to 500 ms) without agreement.
// Replicas that fail or answer NO_LEADER / UNAVAILABLE / TIMEOUT are asked again after a
// backoff; if all have answered without f+1 agreeing, all are asked again. Outstanding sends
// are cancelled once the call is decided. Without agreement by the deadline the call fails
// with DeadlineExceededError ("no result confirmed by f+1 of n replicas within T ms; best: k
// matching", then what each silent replica did). f+1 agreeing INVALID_REQUEST / UNIMPLEMENTED
// / INTERNAL verdicts map as below.
//
// Errors of the transport and the replica (RAFT; PBFT as just described):
//   NO_LEADER                -> UnavailableError ("no leader ..., last known leader ...")
//   TIMEOUT, deadline passed -> DeadlineExceededError naming the timeout
//   INVALID_REQUEST          -> InvalidArgumentError
//   UNIMPLEMENTED            -> UnimplementedError with the replica's text
//   INTERNAL                 -> InternalError
//   unreachable replica      -> UnavailableError naming the replica's address and gRPC's message
//   PERMISSION_DENIED        -> PermissionDeniedError (RAFT)
//   TLS files not readable   -> the error naming the file (see the config's `tls`)
// Errors of the KV service itself (typed helpers only; Execute returns the KVResponse as is):
//   NOT_FOUND -> NotFoundError, VERSION_MISMATCH -> FailedPreconditionError,
//   INVALID -> InvalidArgumentError, ERROR -> InternalError.
//
// Thread-safe: calls may run concurrently; each gets its own request_id.
class KVClient {
 public:
  struct VersionedValue {
    std::string value;
    uint64_t version = 0;
  };

  // `config` lists the replicas (a client config: self_id 0) and how to reach them: under
  // `tls`, this client's certificate and the CA, and each replica must present a certificate
  // naming it ("replica-<id>"). It is copied.
  explicit KVClient(const ResDBConfig& config);
  ~KVClient();

  KVClient(const KVClient&) = delete;
  KVClient& operator=(const KVClient&) = delete;

  absl::Status Set(const std::string& key, const std::string& value);
  // NotFoundError if the key is absent.
  absl::StatusOr<std::string> Get(const std::string& key);
  // Deleting an absent key succeeds.
  absl::Status Delete(const std::string& key);
  // The pairs with min_key <= key <= max_key in key order (an empty max_key: no upper bound),
  // at most kRangeItems of them (several requests when the values are large).
  static constexpr size_t kRangeItems = 10000;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> GetRange(
      const std::string& min_key, const std::string& max_key);
  // Writes `value` if the key is at `expected_version` (0: never written with a version) and
  // returns the new version; FailedPreconditionError naming the current version otherwise.
  absl::StatusOr<uint64_t> SetWithVersion(const std::string& key, const std::string& value,
                                          uint64_t expected_version);
  // `version` 0 reads the latest version. NotFoundError if the key or version does not exist.
  absl::StatusOr<VersionedValue> GetWithVersion(const std::string& key, uint64_t version = 0);
  // The kept versions from `min_version` on (0: all), oldest first.
  absl::StatusOr<std::vector<VersionedValue>> GetHistory(const std::string& key,
                                                         uint64_t min_version = 0);

  // Sends `request` and returns the service's KVResponse whatever its status; only transport
  // and replica errors (see above) become a non-OK status.
  absl::StatusOr<KVResponse> Execute(const KVRequest& request);

  // Read consistency sent with reads (GET, GETRANGE, GET_WITH_VERSION, GET_HISTORY):
  // "linearizable" (the replicas' default) or "stale" (a replica may answer from its local
  // state). Other values are sent as given and rejected by the replica.
  void SetConsistency(const std::string& consistency);
  // Overall deadline of each call, retries included; values <= 0 restore the config's.
  void SetTimeoutMs(int timeout_ms);

  // This client's identity in every Request it sends (random, non-zero).
  uint64_t GetClientId() const;
  // The replica believed to lead (PBFT: the primary most of the agreeing replicas named), 0 when
  // unknown.
  int64_t GetLastKnownLeader() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace resdb

#endif  // INTERFACE_KV_KV_CLIENT_H_
