#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_DISK_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_DISK_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/consensus/ordering/pbft/pbft_wal.h"
#include "platform/storage/storage.h"

namespace resdb {
namespace pbft {
namespace simulation {

// What survives a replica crash: the production PbftWal over an in-memory storage that
// outlives the replica. A write is the WAL's one write (the "one synced write" of the Actions
// contract); the simulator never trims the ledger, so that any peer, however far behind, can
// be answered and a restart can rebuild the executor.
class PbftSimDisk {
 public:
  PbftSimDisk();

  // Writes the durable part of `actions` (view record, slot records, stable checkpoint and the
  // `execute` batches as ledger entries) through PbftWal::Write. Returns false (nothing
  // written) if the WAL refuses it, as when the batches do not continue the ledger.
  bool Write(const Actions& actions);

  // Opens the WAL again from the storage, as a restarted replica does, and returns what it
  // restored (the records Restore() takes).
  RestoredState Reopen();

  uint64_t ledger_tip() const { return wal_->last_committed(); }
  // The whole ledger, seq -> batch data.
  std::map<uint64_t, std::string> ledger() const;
  // The data of ledger entry `seq`, if the ledger holds it.
  std::optional<std::string> LedgerEntry(uint64_t seq) const;
  // Ledger entries from `seq` on, ascending.
  std::vector<CommittedBatch> LedgerFrom(uint64_t seq) const;
  uint64_t writes() const { return writes_; }

 private:
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<PbftWal> wal_;
  uint64_t writes_ = 0;
};

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_DISK_H_
