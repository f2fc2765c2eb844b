#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_SNAPSHOT_MANAGER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_SNAPSHOT_MANAGER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/storage/storage.h"

namespace resdb {
namespace raft {

// Stores RAFT snapshots in a Storage view (normally the kRaftSnapshotPrefix view): at most two,
// the current one and one being written (our own, by Save, or one received from the leader).
//
// Keys of the view, for each of the two slots "a" and "b":
//   slot + "_meta"            the slot's SnapshotMetadata (with size and SHA-256), its chunk
//                             size and how many bytes it holds so far.
//   slot + 8-byte big-endian  the bytes [offset, offset + chunk size) of the data.
// and "active", naming the slot of the current snapshot (absent: no snapshot yet). Every value
// carries a CRC-32C.
//
// A new snapshot is written into the inactive slot and made current by one synced write that
// flips "active" and deletes the old slot, so a crash at any point leaves either the old or the
// new snapshot current and intact. A partly received snapshot survives reopening and resumes at
// IncomingOffset().
//
// Thread-safe: all methods may be called concurrently; each call is atomic.
class RaftSnapshotManager {
 public:
  // Opens the snapshots stored in `storage`; new data is split into chunks of `chunk_bytes`.
  // InvalidArgumentError if chunk_bytes is 0. DataLossError naming the key if "active" or a
  // slot record is damaged, or the active slot is not a complete snapshot. `storage` must
  // outlive the manager.
  static absl::StatusOr<std::unique_ptr<RaftSnapshotManager>> Open(Storage* storage,
                                                                   uint64_t chunk_bytes);

  RaftSnapshotManager(const RaftSnapshotManager&) = delete;
  RaftSnapshotManager& operator=(const RaftSnapshotManager&) = delete;

  // Makes `data` the current snapshot, with `metadata` completed by size and checksum (any given
  // size and checksum are replaced). Discards a partly received snapshot. On error the previous
  // snapshot stays current.
  absl::Status Save(const SnapshotMetadata& metadata, absl::string_view data);

  // Starts receiving the snapshot described by `metadata`, which must carry its size and 32-byte
  // SHA-256 checksum (InvalidArgumentError otherwise). If the incoming slot already holds a
  // partial snapshot with equal metadata it is kept and receiving resumes at IncomingOffset();
  // otherwise the incoming slot is reset to 0 bytes.
  absl::Status BeginIncoming(const SnapshotMetadata& metadata);

  // Stores `chunk.data()` at `chunk.offset()` of the incoming snapshot and returns the number of
  // bytes received so far. FailedPreconditionError if no snapshot is incoming or if the offset
  // is not IncomingOffset() (the message names the expected offset; the leader should resend
  // from there). InvalidArgumentError if the chunk ends past the announced size. The `done`
  // flag is not looked at: call FinishIncoming.
  absl::StatusOr<uint64_t> WriteChunk(const SnapshotChunk& chunk);

  // Bytes of the incoming snapshot received so far; 0 if none is incoming.
  uint64_t IncomingOffset() const;

  // Metadata of the incoming snapshot, if one is incoming.
  std::optional<SnapshotMetadata> Incoming() const;

  // Makes the incoming snapshot current and deletes the previous one. FailedPreconditionError
  // if none is incoming or not all of its bytes have arrived (it stays resumable).
  // DataLossError if its checksum does not match: it is then discarded and the current snapshot
  // stays as it was.
  absl::Status FinishIncoming();

  // Discards the incoming snapshot, if any. Best effort: on a storage error the partial data
  // stays and is reset by the next BeginIncoming or Save.
  void AbortIncoming();

  // Metadata of the current snapshot, or nullopt if there is none.
  std::optional<SnapshotMetadata> Current() const;

  // Up to `max_bytes` bytes of the current snapshot from `offset`; `done` is set when the chunk
  // reaches the end. NotFoundError if there is no snapshot, OutOfRangeError if offset > size,
  // InvalidArgumentError if max_bytes is 0, DataLossError naming the key of a missing or
  // damaged stored chunk.
  absl::StatusOr<SnapshotChunk> ReadChunk(uint64_t offset, uint64_t max_bytes) const;

  // All the data of the current snapshot, checked against its size and checksum
  // (DataLossError on mismatch). NotFoundError if there is no snapshot.
  absl::StatusOr<std::string> ReadAll() const;

 private:
  // What one slot holds. Stored chunks cover [0, received) in pieces of chunk_bytes.
  struct Slot {
    bool present = false;
    uint64_t chunk_bytes = 0;
    uint64_t received = 0;
    SnapshotMetadata metadata;
  };

  RaftSnapshotManager(Storage* storage, uint64_t chunk_bytes);

  int IncomingSlotLocked() const { return active_ == 0 ? 1 : 0; }
  // Adds to `batch` the deletion of every key of `slot`.
  void DeleteSlotKeysLocked(int slot, WriteBatch* batch) const;
  // Adds to `batch` the slot record of `state`.
  void PutSlotRecordLocked(int slot, const Slot& state, WriteBatch* batch) const;
  // Appends `data` at the end of `slots_[slot]` (read-modify-write of a partial last chunk) and
  // writes it together with the updated slot record. On success updates slots_[slot].
  absl::Status AppendLocked(int slot, absl::string_view data, bool sync);
  // Reads [offset, offset + length) of `slot`, which must hold those bytes.
  absl::Status ReadLocked(int slot, uint64_t offset, uint64_t length, std::string* out) const;
  // Deletes the slot and forgets it.
  absl::Status DiscardLocked(int slot);
  // Flips "active" to `slot` and deletes the other slot, in one synced write.
  absl::Status ActivateLocked(int slot);

  Storage* const storage_;
  const uint64_t chunk_bytes_;
  mutable std::mutex mu_;
  // Index into slots_ of the current snapshot, or -1.
  int active_ = -1;
  Slot slots_[2];
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_RAFT_SNAPSHOT_MANAGER_H_
