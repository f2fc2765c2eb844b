#ifndef PLATFORM_CONSENSUS_EXECUTION_STATE_DIGEST_H_
#define PLATFORM_CONSENSUS_EXECUTION_STATE_DIGEST_H_

#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "platform/proto/resdb.pb.h"
#include "platform/storage/storage.h"

namespace resdb {

// A chain over the responses of every executed batch: the SHA-256 of the previous value and
// the batch's serialized responses. Execution is deterministic, so replicas that executed the
// same batches hold the same value however they got there (executed once, again after a
// restart, or installed from a snapshot that carries it): `resdb_admin status` compares
// replicas by it. Stored under kKey in a protocol's state view, in the write that records the
// applied index. Thread-safe.
class StateDigest {
 public:
  static constexpr char kKey[] = "state_digest";

  // Reads the stored value; nothing stored: empty (nothing executed).
  absl::Status Load(Storage* storage);
  // Extends the chain with one executed batch and adds the new value to `batch`.
  void Extend(const BatchUserResponse& response, WriteBatch* batch);
  std::string value() const;

 private:
  mutable std::mutex mu_;
  std::string value_;  // guarded by mu_
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_STATE_DIGEST_H_
