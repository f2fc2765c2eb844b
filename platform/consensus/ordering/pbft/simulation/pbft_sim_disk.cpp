#include "platform/consensus/ordering/pbft/simulation/pbft_sim_disk.h"

namespace resdb {
namespace pbft {
namespace simulation {

bool PbftSimDisk::Write(const Actions& actions) {
  uint64_t next = ledger_tip() + 1;
  for (const auto& [seq, data] : actions.execute) {
    if (seq != next++) return false;
  }
  ++writes_;
  if (actions.view_record.has_value()) view_ = actions.view_record;
  for (const SlotRecord& slot : actions.slots) slots_[slot.batch().seq()] = slot;
  if (actions.stable.has_value() &&
      (!stable_.has_value() || actions.stable->seq() > stable_->seq())) {
    stable_ = actions.stable;
  }
  for (const auto& [seq, data] : actions.execute) ledger_.emplace(seq, data);
  // Slot records at or below the stable checkpoint are settled for good.
  if (stable_.has_value()) slots_.erase(slots_.begin(), slots_.upper_bound(stable_->seq()));
  return true;
}

RestoredState PbftSimDisk::Restored() const {
  RestoredState state;
  if (view_.has_value()) {
    state.view = view_->view();
    state.view_active = view_->active();
    state.new_view = view_->new_view();
  }
  if (stable_.has_value()) state.stable = *stable_;
  state.last_committed = ledger_tip();
  // Those between the stable checkpoint and last_committed go along too: a VIEWCHANGE after
  // the restart still has to vouch for those batches.
  for (const auto& [seq, slot] : slots_) state.slots.push_back(slot);
  return state;
}

std::vector<CommittedBatch> PbftSimDisk::LedgerFrom(uint64_t seq) const {
  std::vector<CommittedBatch> out;
  for (auto it = ledger_.lower_bound(seq); it != ledger_.end(); ++it) {
    CommittedBatch batch;
    batch.set_seq(it->first);
    batch.set_data(it->second);
    out.push_back(std::move(batch));
  }
  return out;
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
