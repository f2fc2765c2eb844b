#include "platform/consensus/ordering/raft/in_memory_log.h"

#include <algorithm>

namespace resdb {
namespace raft {

void InMemoryLog::Restore(uint64_t snapshot_index, uint64_t snapshot_term,
                          std::vector<Entry> entries) {
  snapshot_index_ = snapshot_index;
  snapshot_term_ = snapshot_term;
  entries_.clear();
  for (Entry& entry : entries) {
    if (entry.index() != last_index() + 1) break;
    entries_.push_back(std::move(entry));
  }
  handed_out_ = last_index();
  pending_truncate_ = 0;
}

uint64_t InMemoryLog::last_term() const {
  return entries_.empty() ? snapshot_term_ : entries_.back().term();
}

std::optional<uint64_t> InMemoryLog::Term(uint64_t index) const {
  if (index == snapshot_index_) return snapshot_term_;
  if (index == 0) return 0;
  if (index < snapshot_index_ || index > last_index()) return std::nullopt;
  return entries_[index - first_index()].term();
}

bool InMemoryLog::MatchTerm(uint64_t index, uint64_t term) const {
  std::optional<uint64_t> t = Term(index);
  return t.has_value() && *t == term;
}

bool InMemoryLog::IsUpToDate(uint64_t index, uint64_t term) const {
  const uint64_t my_term = last_term();
  return term > my_term || (term == my_term && index >= last_index());
}

const Entry& InMemoryLog::At(uint64_t index) const { return entries_[index - first_index()]; }

std::vector<Entry> InMemoryLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_count,
                                      uint64_t max_bytes) const {
  std::vector<Entry> out;
  lo = std::max(lo, first_index());
  hi = std::min(hi, last_index());
  uint64_t bytes = 0;
  for (uint64_t i = lo; i <= hi && out.size() < max_count; ++i) {
    const Entry& entry = At(i);
    const uint64_t size = EntryBytes(entry);
    if (!out.empty() && bytes + size > max_bytes) break;
    bytes += size;
    out.push_back(entry);
  }
  return out;
}

bool InMemoryLog::Append(Entry entry) {
  if (entry.index() != last_index() + 1) return false;
  entries_.push_back(std::move(entry));
  return true;
}

void InMemoryLog::TruncateFrom(uint64_t index) {
  if (index <= snapshot_index_ || index > last_index()) return;
  entries_.resize(index - first_index());
  if (index <= handed_out_) {
    pending_truncate_ = pending_truncate_ == 0 ? index : std::min(pending_truncate_, index);
    handed_out_ = index - 1;
  }
}

void InMemoryLog::CompactTo(uint64_t index) {
  if (index <= snapshot_index_ || index > last_index()) return;
  const uint64_t term = At(index).term();
  entries_.erase(entries_.begin(), entries_.begin() + (index - snapshot_index_));
  snapshot_index_ = index;
  snapshot_term_ = term;
  handed_out_ = std::max(handed_out_, index);
}

uint64_t InMemoryLog::FirstIndexOfTermAt(uint64_t index) const {
  std::optional<uint64_t> term = Term(index);
  if (!term.has_value()) return index;
  uint64_t first = index;
  while (first > snapshot_index_ && first > 1) {
    std::optional<uint64_t> prev = Term(first - 1);
    if (!prev.has_value() || *prev != *term) break;
    --first;
  }
  return first;
}

uint64_t InMemoryLog::LastIndexOfTerm(uint64_t term) const {
  for (uint64_t i = last_index(); i > snapshot_index_; --i) {
    const uint64_t t = At(i).term();
    if (t == term) return i;
    if (t < term) return 0;  // terms only grow along the log
  }
  if (snapshot_index_ > 0 && snapshot_term_ == term) return snapshot_index_;
  return 0;
}

bool InMemoryLog::HasUnpersisted() const {
  return pending_truncate_ != 0 || handed_out_ < last_index();
}

void InMemoryLog::TakeUnpersisted(uint64_t* truncate_from, std::vector<Entry>* entries) {
  *truncate_from = pending_truncate_;
  entries->clear();
  for (uint64_t i = std::max(handed_out_ + 1, first_index()); i <= last_index(); ++i) {
    entries->push_back(At(i));
  }
  pending_truncate_ = 0;
  handed_out_ = last_index();
}

uint64_t InMemoryLog::EntryBytes(const Entry& entry) { return entry.ByteSizeLong(); }

}  // namespace raft
}  // namespace resdb
