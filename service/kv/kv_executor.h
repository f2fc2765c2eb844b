#ifndef SERVICE_KV_KV_EXECUTOR_H_
#define SERVICE_KV_KV_EXECUTOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "platform/consensus/execution/transaction_manager.h"
#include "platform/statistic/stats.h"
#include "platform/storage/storage.h"
#include "service/kv/proto/kv.pb.h"

namespace resdb {

// The key-value service's state machine: executes serialized KVRequests against a Storage
// and answers with serialized KVResponses.
//
// Rules every command follows:
// - A payload that does not parse, or names no known command, yields INVALID.
// - Keys must be 1..kMaxKeyBytes bytes and must not start with 0xFF (reserved for the
//   storage's version bookkeeping); otherwise INVALID.
// - GETRANGE returns the keys in [min_key, max_key] (both ends included; an empty max_key
//   means no upper bound; min_key > max_key gives no items), at most `limit` of them and never
//   more than kDefaultRangeLimit items or kMaxResultBytes of keys and values (at least one
//   item): a request costs every replica that orders it a bounded amount of memory. A result
//   cut short by the cap says so (`truncated`).
// - SET_WITH_VERSION writes only if the key is at `version` (0 = never written with a
//   version) and returns the new version; otherwise VERSION_MISMATCH with the current version.
//   SET and DELETE change the plain value only, not the version history.
// - GET_WITH_VERSION reads `version` (0 = latest); GET_HISTORY returns the kept versions from
//   `version` on, oldest first, capped like GETRANGE.
// - Quota: the executor keeps the bytes of the data it holds (keys and values of plain
//   values and of kept versions) in the storage, in the same writes as the data, so every
//   replica counts alike. With a quota set, a SET or SET_WITH_VERSION that would grow the data
//   past it yields QUOTA_EXCEEDED and changes nothing; DELETE, reads and writes that do not
//   grow the data go on. Data written before the count existed is not counted.
// - A read the storage fails yields ERROR with the storage's message. A write the storage fails
//   for any reason but the request's own (bad key, stale version) stops the replica
//   (FailStop): the other replicas stored it, and this one must not answer otherwise.
//
// Thread-safety: ExecuteData (called by the executor's single thread) and Query (from any
// thread) may run concurrently; Storage is thread-safe.
class KVExecutor : public TransactionManager {
 public:
  static constexpr size_t kMaxKeyBytes = 1024;
  static constexpr uint32_t kDefaultRangeLimit = 10000;
  static constexpr size_t kMaxResultBytes = 4 << 20;

  // `storage` is the user-data view and must outlive the executor. With `sync` set, every
  // write is on stable storage before its response is produced. `quota_bytes` 0 means no
  // quota. With `stats`, the gauges kv_used_bytes and kv_quota_bytes follow the count.
  explicit KVExecutor(Storage* storage, bool sync = true, uint64_t quota_bytes = 0,
                      Stats* stats = nullptr);

  std::unique_ptr<std::string> ExecuteData(const std::string& request) override;

  // Serves GET, GETRANGE, GET_WITH_VERSION and GET_HISTORY from local state; any other
  // command yields INVALID and changes nothing.
  std::unique_ptr<std::string> Query(const std::string& request) override;

  // True for a parseable GET, GETRANGE, GET_WITH_VERSION or GET_HISTORY.
  bool IsReadOnly(const std::string& request) override;

  // The same operations on parsed messages.
  KVResponse Execute(const KVRequest& request);
  KVResponse ExecuteReadOnly(const KVRequest& request);

 private:
  KVResponse Set(const KVRequest& request);
  KVResponse Get(const KVRequest& request);
  KVResponse Delete(const KVRequest& request);
  KVResponse GetRange(const KVRequest& request);
  KVResponse SetWithVersion(const KVRequest& request);
  KVResponse GetWithVersion(const KVRequest& request);
  KVResponse GetHistory(const KVRequest& request);

  // The data bytes counted so far (0 before the first write), or the storage's error.
  absl::StatusOr<uint64_t> UsedBytes();
  // QUOTA_EXCEEDED if growing the data by `delta` from `used` would pass the quota.
  std::optional<KVResponse> CheckQuota(uint64_t used, int64_t delta) const;
  // Adds the new count to `batch` and publishes it.
  void RecordUsed(uint64_t used, WriteBatch* batch);

  Storage* storage_;
  bool sync_;
  const uint64_t quota_bytes_;
  Gauge* used_gauge_ = nullptr;
};

}  // namespace resdb

#endif  // SERVICE_KV_KV_EXECUTOR_H_
