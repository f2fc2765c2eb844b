#ifndef PLATFORM_CONSENSUS_EXECUTION_APPLIED_REQUEST_TABLE_H_
#define PLATFORM_CONSENSUS_EXECUTION_APPLIED_REQUEST_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/consensus/execution/transaction_manager.h"
#include "platform/proto/resdb.pb.h"
#include "platform/statistic/stats.h"
#include "platform/storage/storage.h"

namespace resdb {

// Which client requests the state machine has applied, and their responses: what makes a
// retried (client_id, request_id) apply once. Every replica updates it in the apply path
// only, from the same sequence of committed batches, so every replica holds the same table.
//
// Per client it keeps the `per_client` highest applied request ids with their responses;
// at most `max_clients` clients are kept, the one whose latest request was applied longest
// ago is forgotten first ("longest ago" counts applied batches, so it is deterministic).
// A retry of a request that was forgotten this way would be applied again.
//
// Persistence (in a Storage view of the protocol's own state): Flush writes the
// records of the clients changed since the last Flush and the applied index into one
// WriteBatch, so the table on disk always matches the applied index stored with it. Keys:
//   "applied_index"                 8-byte big-endian log index, then 8-byte batch clock
//   "client_" + 8-byte big-endian   8-byte clock of the client's last apply + a serialized
//                                   BatchUserRequest whose UserRequests hold request_id and,
//                                   in `data`, the response
// Thread-safe.
class AppliedRequestTable {
 public:
  static constexpr size_t kDefaultPerClient = 32;
  static constexpr size_t kDefaultMaxClients = 10000;

  explicit AppliedRequestTable(size_t per_client = kDefaultPerClient,
                               size_t max_clients = kDefaultMaxClients);

  // Replaces the contents with what `storage` holds (nothing stored: empty, applied 0).
  // DataLossError naming the key for a record that does not decode.
  absl::Status Load(Storage* storage);
  // The key prefixes (in the storage passed to Load and written by Flush) that hold the table:
  // what must travel with a state machine's data in a snapshot.
  static std::vector<std::string> KeyPrefixes();

  // The stored response of an applied request.
  std::optional<std::string> Lookup(uint64_t client_id, uint64_t request_id) const;

  // Starts the next applied batch (advances the clock the eviction order uses).
  void BeginBatch();
  // Records that (client_id, request_id) was applied with `response`. client_id 0 is ignored.
  void Record(uint64_t client_id, uint64_t request_id, const std::string& response);

  // Adds every change since the last Flush and `applied_index` to `batch`.
  void Flush(uint64_t applied_index, WriteBatch* batch);

  // The applied index of the last Flush or Load.
  uint64_t applied_index() const;
  size_t client_count() const;

 private:
  struct ClientRecord {
    uint64_t clock = 0;
    std::map<uint64_t, std::string> responses;  // request_id -> response
  };

  static std::string ClientKey(uint64_t client_id);

  const size_t per_client_;
  const size_t max_clients_;
  mutable std::mutex mu_;
  std::map<uint64_t, ClientRecord> clients_;
  std::set<std::pair<uint64_t, uint64_t>> by_clock_;  // (clock, client_id)
  std::set<uint64_t> dirty_;                          // changed or forgotten clients
  uint64_t clock_ = 0;
  uint64_t applied_index_ = 0;
};

// A TransactionManager that applies each (client_id, request_id) at most once: requests the
// table already holds, or that appeared earlier in the same batch, are not executed again and
// get the first execution's response. Everything else goes to the wrapped manager (as one
// batch) and is recorded. Counts skipped requests in "executor_duplicate_requests".
class DedupTransactionManager : public TransactionManager {
 public:
  // `table` and `stats` must outlive this object.
  DedupTransactionManager(std::unique_ptr<TransactionManager> inner, AppliedRequestTable* table,
                          Stats* stats);

  std::unique_ptr<std::string> ExecuteData(const std::string& request) override;
  std::unique_ptr<BatchUserResponse> ExecuteBatch(const BatchUserRequest& batch) override;
  std::unique_ptr<std::string> Query(const std::string& request) override;
  bool IsReadOnly(const std::string& request) override;

 private:
  std::unique_ptr<TransactionManager> inner_;
  AppliedRequestTable* const table_;
  Counter* const duplicates_;
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_APPLIED_REQUEST_TABLE_H_
