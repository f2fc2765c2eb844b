#ifndef PLATFORM_CONSENSUS_REPLICA_APPLY_RECORDER_H_
#define PLATFORM_CONSENSUS_REPLICA_APPLY_RECORDER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "platform/consensus/execution/applied_request_table.h"
#include "platform/consensus/execution/state_digest.h"
#include "platform/proto/resdb.pb.h"
#include "platform/storage/staged_storage.h"
#include "platform/storage/storage.h"

namespace resdb {

// What a replica knows about what it applied: the applied-request table (which requests were
// applied and their responses), the state digest and the applied index. After each executed
// batch it writes the batch's service state, the table's changes, the digest and the index in
// one storage write, so a crash never leaves a batch's state without the record that it was
// applied (which would apply it twice at replay) or the reverse. The write is not synced: the
// protocol's log is the durable record, and a lost suffix is applied again at restart.
//
// Record runs on the executor thread; Lookup and the accessors are thread-safe.
class ApplyRecorder {
 public:
  // `storage` is the replica's whole database and `records_prefix` the key prefix in it where
  // the records live (inside a prefix the protocol owns). `staged_state`, if set, is the
  // StagedStorage the service writes through, over the kUserDataPrefix view of `storage`;
  // without it the service writes directly and only the records are written here. Every
  // pointer must outlive the recorder. Call Load before anything else.
  ApplyRecorder(Storage* storage, absl::string_view records_prefix, StagedStorage* staged_state);

  ApplyRecorder(const ApplyRecorder&) = delete;
  ApplyRecorder& operator=(const ApplyRecorder&) = delete;

  // Reads the table and the digest from storage: at open, and after a snapshot replaced them.
  absl::Status Load();

  // Writes the batch executed at `seq` as described above; `responses` extends the digest.
  // Stops the process if the write fails: answering clients for a batch whose state is not
  // stored would lose acknowledged writes.
  void Record(uint64_t seq, const BatchUserResponse& responses);

  // The recorded response of an applied request.
  std::optional<std::string> Lookup(uint64_t client_id, uint64_t request_id) const;
  uint64_t applied_index() const { return table_.applied_index(); }
  std::string state_digest() const { return digest_.value(); }
  // The table the executor's DedupTransactionManager records into before Record runs, and
  // ClientSessions reads retries from.
  AppliedRequestTable* table() { return &table_; }

 private:
  absl::Status Write(const WriteBatch& records);

  Storage* const storage_;
  const std::string records_prefix_;
  StagedStorage* const staged_state_;
  const std::unique_ptr<Storage> records_;
  AppliedRequestTable table_;
  StateDigest digest_;
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_REPLICA_APPLY_RECORDER_H_
