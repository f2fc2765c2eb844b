#ifndef INTERFACE_KV_KV_CLIENT_H_
#define INTERFACE_KV_KV_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "interface/client/replica_caller.h"
#include "platform/config/resdb_config.h"
#include "service/kv/proto/kv.pb.h"

namespace resdb {

// A client of the replicated key-value service: typed calls over the ReplicaCaller of the
// config's consensus_protocol (interface/client/), which decides whom to ask and which
// answers to trust. Each call sends a Request{type = TYPE_CLIENT_REQUEST, data = serialized
// KVRequest} and is bounded by the client timeout (the config's client_timeout_ms unless
// SetTimeoutMs says otherwise). Every send and retry of a call carries the same client_id /
// request_id, so replicas apply a retried write once.
//
// Errors of the transport and the replica: see ReplicaCaller, RaftCaller and PbftCaller.
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
  // and replica errors (see ReplicaCaller) become a non-OK status.
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
  const std::unique_ptr<ReplicaCaller> caller_;
  const int config_timeout_ms_;
  std::atomic<uint64_t> next_request_id_{1};

  mutable std::mutex mu_;
  int timeout_ms_;
  std::string consistency_;
};

}  // namespace resdb

#endif  // INTERFACE_KV_KV_CLIENT_H_
