#ifndef PLATFORM_CONSENSUS_EXECUTION_TRANSACTION_MANAGER_H_
#define PLATFORM_CONSENSUS_EXECUTION_TRANSACTION_MANAGER_H_

#include <memory>
#include <string>

#include "platform/proto/resdb.pb.h"

namespace resdb {

// The state machine of a service (KV, UTXO, ...). The TransactionExecutor feeds it the
// committed batches strictly in sequence order from a single thread, so an implementation
// needs no locking for ExecuteData/ExecuteBatch against each other. Query may run
// concurrently with execution on other threads and must be safe for that.
//
// Every replica must produce the same responses and the same state for the same sequence
// of requests: implementations must be deterministic.
class TransactionManager {
 public:
  virtual ~TransactionManager() = default;

  // Executes one client request payload and returns the response payload. Never throws and
  // never returns nullptr: a malformed payload yields a service-level error response.
  virtual std::unique_ptr<std::string> ExecuteData(const std::string& request) = 0;

  // Executes every request of `batch` in order. The result holds one response per request,
  // in the same order. The default calls ExecuteData for each request; a service overrides
  // it to apply a batch more efficiently (e.g. one storage write for the whole batch).
  virtual std::unique_ptr<BatchUserResponse> ExecuteBatch(const BatchUserRequest& batch);

  // Serves a read-only request from local state without going through ordering. Returns
  // nullptr when the service does not support local reads (the default); the caller then
  // reports the request as unimplemented or orders it instead.
  virtual std::unique_ptr<std::string> Query(const std::string& request);

  // True if `request` only reads state, so that a protocol may serve it through Query
  // instead of ordering it. The default (false) orders everything.
  virtual bool IsReadOnly(const std::string& /*request*/) { return false; }
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_TRANSACTION_MANAGER_H_
