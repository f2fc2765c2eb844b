#include "platform/consensus/ordering/pbft/simulation/pbft_sim_disk.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <utility>

#include "platform/storage/memory_storage.h"

namespace resdb {
namespace pbft {
namespace simulation {
namespace {

// The simulator's storage never fails, so neither may opening the WAL over it.
std::unique_ptr<PbftWal> OpenWal(Storage* storage) {
  auto wal = PbftWal::Open(storage, /*sync=*/true);
  if (!wal.ok()) std::abort();
  return std::move(*wal);
}

}  // namespace

PbftSimDisk::PbftSimDisk() : storage_(NewMemoryStorage()), wal_(OpenWal(storage_.get())) {}

bool PbftSimDisk::Write(const Actions& actions) {
  if (!wal_->Write(actions.view_record, actions.slots, actions.stable, actions.execute).ok()) {
    return false;
  }
  ++writes_;
  return true;
}

RestoredState PbftSimDisk::Reopen() {
  wal_ = OpenWal(storage_.get());
  return wal_->restored();
}

std::map<uint64_t, std::string> PbftSimDisk::ledger() const {
  std::map<uint64_t, std::string> ledger;
  for (CommittedBatch& batch : LedgerFrom(wal_->first_ledger_seq())) {
    ledger.emplace(batch.seq(), std::move(*batch.mutable_data()));
  }
  return ledger;
}

std::optional<std::string> PbftSimDisk::LedgerEntry(uint64_t seq) const {
  if (seq == 0 || seq < wal_->first_ledger_seq() || seq > wal_->last_committed()) {
    return std::nullopt;
  }
  absl::StatusOr<std::string> data = wal_->ReadBatch(seq);
  if (!data.ok()) std::abort();
  return std::move(*data);
}

std::vector<CommittedBatch> PbftSimDisk::LedgerFrom(uint64_t seq) const {
  if (wal_->last_committed() == 0) return {};
  auto batches =
      wal_->ReadLedger(std::max(seq, wal_->first_ledger_seq()), std::numeric_limits<size_t>::max(),
                       std::numeric_limits<size_t>::max());
  if (!batches.ok()) std::abort();
  return std::move(*batches);
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
