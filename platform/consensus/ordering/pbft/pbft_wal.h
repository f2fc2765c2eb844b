#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_PBFT_WAL_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_PBFT_WAL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/storage/storage.h"

namespace resdb {
namespace pbft {

// The durable state of one PBFT replica (see the durability contract on Actions): its view,
// its slot records, its stable checkpoint and its ledger of committed batches, kept in a
// Storage view (normally the kPbftPrefix view of the replica's storage, see PrefixAllocator).
//
// Keys of the view:
//   "meta"                        first and last ledger seq (both 0 while the ledger is empty).
//   "view"                        ViewRecord.
//   "stable"                      StableCheckpoint.
//   "slot/" + 8-byte big-endian   SlotRecord of that seq.
//   "ledger/" + 8-byte big-endian CommittedBatch of that seq.
// Every value carries a CRC-32C. Each Write or trim step is one WriteBatch that includes the
// metadata, so after a crash the store is exactly the state after some completed call, and
// Open reads the ledger's bounds without scanning it.
//
// The ledger holds every seq in [first_ledger_seq(), last_committed()]. It only grows at the
// top (Write) and shrinks at the bottom (TrimLedgerBefore), and once non-empty it never
// becomes empty again, so the last committed seq is always known.
//
// Thread-safety: every method may be called from any thread. Write and TrimLedgerBefore are
// serialised with each other; ReadLedger, ReadBatch and the accessors run concurrently with
// them and never wait for their storage I/O (only for a short in-memory update). The storage
// must be thread-safe (every Storage is).
class PbftWal {
 public:
  // Reads the state stored in `storage` (not owned; must outlive the WAL), or an empty state if
  // the view holds none. Reads the metadata, the view and stable records, every slot record and
  // the first and last ledger entries; the entries between them are checked when read.
  // DataLossError naming the key if one of those records does not decode, fails its checksum,
  // holds another seq than its key, or if the metadata is inconsistent or missing while ledger
  // entries exist. Other storage errors are returned as they are.
  //
  // When `sync` is true every Write and trim is on stable storage when it returns.
  static absl::StatusOr<std::unique_ptr<PbftWal>> Open(Storage* storage, bool sync);

  PbftWal(const PbftWal&) = delete;
  PbftWal& operator=(const PbftWal&) = delete;

  // What Open found, for PbftReplica::Restore: the view record (none: view 0, active), the
  // stable checkpoint (none: seq 0), last_committed = the highest ledger seq (0 if none) and
  // the slot records above the stable checkpoint in ascending seq. Not updated by later calls.
  const RestoredState& restored() const;

  // Writes the durable part of one Actions in one WriteBatch (one fsync when syncing): `view`
  // and `stable` if set, the slot records (the last one per seq wins) and the `committed`
  // batches as ledger entries. Slot records at or below the resulting stable checkpoint (the
  // highest written) are not written, and stored ones are deleted in the same batch: the
  // checkpoint supersedes them. Those between it and last_committed() stay, because their
  // prepared certificates still count in a view change.
  //
  // InvalidArgumentError, and nothing is written, unless committed[i].first ==
  // last_committed() + 1 + i, or if a slot record has seq 0. Writing nothing at all is a
  // no-op without I/O.
  absl::Status Write(const std::optional<ViewRecord>& view, const std::vector<SlotRecord>& slots,
                     const std::optional<StableCheckpoint>& stable,
                     const std::vector<std::pair<uint64_t, std::string>>& committed);

  // Ledger entries from `from` on, ascending and contiguous: at most `max_batches` of them, and
  // no more than `max_bytes` of batch data in total except that the first entry is returned
  // whatever its size. Empty if max_batches is 0 or `from` is outside
  // [first_ledger_seq(), last_committed()] (also when a concurrent trim removed it).
  // DataLossError naming the key if an entry in range is missing or damaged.
  absl::StatusOr<std::vector<CommittedBatch>> ReadLedger(uint64_t from, size_t max_batches,
                                                         size_t max_bytes) const;

  // The data of ledger entry `seq`. NotFoundError if `seq` is outside the ledger;
  // DataLossError naming the key if the entry is missing or damaged.
  absl::StatusOr<std::string> ReadBatch(uint64_t seq) const;

  // The highest ledger seq, 0 while the ledger is empty.
  uint64_t last_committed() const;
  // The lowest kept ledger seq, 0 while the ledger is empty.
  uint64_t first_ledger_seq() const;

  // Drops the ledger entries below `seq` (for retention), but always keeps the entry of
  // last_committed(). A no-op when nothing lies below `seq`. Large trims are written in
  // several atomic steps, each leaving a consistent ledger.
  absl::Status TrimLedgerBefore(uint64_t seq);

 private:
  // The persistent metadata: the ledger's bounds.
  struct Meta {
    uint64_t first = 0;
    uint64_t last = 0;
  };

  PbftWal(Storage* storage, bool sync, const Meta& meta, RestoredState restored,
          std::set<uint64_t> slot_seqs);

  Meta meta() const;
  void SetFirst(uint64_t first);
  // Adds `meta` to `batch`, writes it and on success makes `meta` current. Needs write_mu_.
  absl::Status Commit(WriteBatch* batch, const Meta& meta);

  Storage* const storage_;
  const bool sync_;
  const RestoredState restored_;

  // Serialises Write and TrimLedgerBefore, and guards slot_seqs_ and stable_seq_.
  std::mutex write_mu_;
  // Seqs of the stored slot records.
  std::set<uint64_t> slot_seqs_;
  // The seq of the stored stable checkpoint.
  uint64_t stable_seq_;

  // Guards meta_, which changes only while write_mu_ is held too: a higher `last` after its
  // storage write, a higher `first` before it.
  mutable std::mutex meta_mu_;
  Meta meta_;
};

}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_PBFT_WAL_H_
