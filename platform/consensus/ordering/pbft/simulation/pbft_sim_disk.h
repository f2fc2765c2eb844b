#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_DISK_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_DISK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"

namespace resdb {
namespace pbft {
namespace simulation {

// What survives a replica crash: the durable records of the Actions contract. A write is
// atomic (the "one synced write" of the contract); the ledger is kept whole so that any
// peer, however far behind, can be answered and a restart can rebuild the executor.
class PbftSimDisk {
 public:
  // Writes the durable part of `actions`: view record, slot records, stable checkpoint and
  // the `execute` batches as ledger entries. Returns false (nothing written) if the
  // batches do not continue the ledger.
  bool Write(const Actions& actions);

  // The records as Restore() takes them: the latest view record, the stable checkpoint, the
  // ledger tip as last_committed and the slot records above the stable checkpoint.
  RestoredState Restored() const;

  uint64_t ledger_tip() const { return ledger_.empty() ? 0 : ledger_.rbegin()->first; }
  const std::map<uint64_t, std::string>& ledger() const { return ledger_; }
  // Ledger entries from `seq` on, ascending.
  std::vector<CommittedBatch> LedgerFrom(uint64_t seq) const;
  const std::optional<StableCheckpoint>& stable() const { return stable_; }
  uint64_t writes() const { return writes_; }

 private:
  std::optional<ViewRecord> view_;
  std::map<uint64_t, SlotRecord> slots_;
  std::optional<StableCheckpoint> stable_;
  std::map<uint64_t, std::string> ledger_;
  uint64_t writes_ = 0;
};

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_DISK_H_
