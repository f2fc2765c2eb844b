#include "platform/consensus/ordering/raft/progress.h"

#include <algorithm>

namespace resdb {
namespace raft {

Inflights::Inflights(int max_count, uint64_t max_bytes)
    : max_count_(std::max(1, max_count)), max_bytes_(max_bytes) {}

void Inflights::Add(uint64_t sequence, uint64_t prev_index, uint64_t last_index, uint64_t bytes) {
  items_.push_back(Item{sequence, prev_index, last_index, bytes});
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t index) {
  while (!items_.empty() && items_.front().last_index <= index) {
    bytes_ -= items_.front().bytes;
    items_.pop_front();
  }
}

std::optional<uint64_t> Inflights::PrevIndexOf(uint64_t sequence) const {
  for (const Item& item : items_) {
    if (item.sequence == sequence) return item.prev_index;
  }
  return std::nullopt;
}

void Inflights::Reset() {
  items_.clear();
  bytes_ = 0;
}

bool Inflights::Full() const {
  return count() >= max_count_ || (max_bytes_ > 0 && bytes_ >= max_bytes_);
}

const char* ProgressStateName(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

Progress::Progress(uint64_t next, int max_inflight, uint64_t max_inflight_bytes)
    : next_(std::max<uint64_t>(next, 1)), inflights_(max_inflight, max_inflight_bytes) {}

void Progress::BecomeProbe() {
  // Leaving kSnapshot, resume right after the snapshot the follower was sent.
  if (state_ == ProgressState::kSnapshot) {
    next_ = std::max(match_ + 1, pending_snapshot_ + 1);
  } else {
    next_ = match_ + 1;
  }
  state_ = ProgressState::kProbe;
  probe_sent_ = false;
  pending_snapshot_ = 0;
  stalled_heartbeats = 0;
  inflights_.Reset();
}

void Progress::BecomeReplicate() {
  state_ = ProgressState::kReplicate;
  next_ = match_ + 1;
  probe_sent_ = false;
  pending_snapshot_ = 0;
  stalled_heartbeats = 0;
  inflights_.Reset();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state_ = ProgressState::kSnapshot;
  pending_snapshot_ = snapshot_index;
  probe_sent_ = false;
  stalled_heartbeats = 0;
  inflights_.Reset();
}

void Progress::SnapshotDone(bool success) {
  if (state_ != ProgressState::kSnapshot) return;
  if (!success) pending_snapshot_ = 0;
  BecomeProbe();
  // Paused as if a probe were out. Appends carry non-zero sequences (0 marks heartbeats),
  // so no rejection is taken for an answer to this pause.
  probe_sent_ = true;
  probe_sequence_ = 0;
  probe_prev_index_ = 0;
}

bool Progress::MaybeUpdate(uint64_t index) {
  bool updated = false;
  if (index > match_) {
    match_ = index;
    probe_sent_ = false;
    stalled_heartbeats = 0;
    updated = true;
  }
  next_ = std::max(next_, index + 1);
  if (state_ == ProgressState::kReplicate) inflights_.FreeLE(match_);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t hint_next) {
  if (state_ == ProgressState::kSnapshot) return false;
  if (rejected <= match_) return false;  // an answer to an append older than `match`
  if (state_ == ProgressState::kProbe && rejected + 1 != next_) return false;
  next_ = std::max(match_ + 1, std::min(rejected, hint_next));
  if (state_ == ProgressState::kReplicate) {
    // The pipeline broke: fall back to probing from the hinted position.
    state_ = ProgressState::kProbe;
    stalled_heartbeats = 0;
    inflights_.Reset();
  }
  probe_sent_ = false;
  return true;
}

void Progress::SentAppend(uint64_t sequence, uint64_t prev_index, uint64_t last_index,
                          uint64_t bytes) {
  switch (state_) {
    case ProgressState::kReplicate:
      if (last_index > prev_index) {
        inflights_.Add(sequence, prev_index, last_index, bytes);
        next_ = last_index + 1;
      }
      break;
    case ProgressState::kProbe:
      probe_sent_ = true;
      probe_sequence_ = sequence;
      probe_prev_index_ = prev_index;
      break;
    case ProgressState::kSnapshot:
      break;
  }
}

std::optional<uint64_t> Progress::InflightPrevIndex(uint64_t sequence) const {
  if (state_ == ProgressState::kProbe) {
    if (probe_sent_ && sequence == probe_sequence_) return probe_prev_index_;
    return std::nullopt;
  }
  return inflights_.PrevIndexOf(sequence);
}

bool Progress::IsPaused() const {
  switch (state_) {
    case ProgressState::kProbe:
      return probe_sent_;
    case ProgressState::kReplicate:
      return inflights_.Full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

}  // namespace raft
}  // namespace resdb
