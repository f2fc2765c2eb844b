#include "platform/consensus/ordering/pbft/quorum_collector.h"

namespace resdb {
namespace pbft {

QuorumCollector::QuorumCollector(size_t threshold, const Watermarks* watermarks)
    : threshold_(threshold), watermarks_(watermarks) {}

bool QuorumCollector::Add(uint64_t view, uint64_t seq, const std::string& digest, int64_t sender) {
  if (digest.empty() || seq <= collected_up_to_ || !watermarks_->InWindow(seq)) {
    ++refused_;
    return false;
  }
  Slot& slot = slots_[seq][view];
  auto [it, inserted] = slot.vote_of.emplace(sender, digest);
  if (!inserted) {
    if (it->second == digest) {
      ++duplicates_;
    } else {
      if (slot.conflicting.insert(sender).second) ++conflicts_;
    }
    return false;
  }
  std::vector<int64_t>& voters = slot.voters[digest];
  voters.push_back(sender);
  return voters.size() == threshold_;
}

const QuorumCollector::Slot* QuorumCollector::FindSlot(uint64_t view, uint64_t seq) const {
  auto by_seq = slots_.find(seq);
  if (by_seq == slots_.end()) return nullptr;
  auto by_view = by_seq->second.find(view);
  if (by_view == by_seq->second.end()) return nullptr;
  return &by_view->second;
}

size_t QuorumCollector::MatchingVotes(uint64_t view, uint64_t seq,
                                      const std::string& digest) const {
  return Voters(view, seq, digest).size();
}

bool QuorumCollector::HasQuorum(uint64_t view, uint64_t seq, const std::string& digest) const {
  return threshold_ > 0 && MatchingVotes(view, seq, digest) >= threshold_;
}

std::vector<int64_t> QuorumCollector::Voters(uint64_t view, uint64_t seq,
                                             const std::string& digest) const {
  const Slot* slot = FindSlot(view, seq);
  if (slot == nullptr) return {};
  auto it = slot->voters.find(digest);
  if (it == slot->voters.end()) return {};
  return it->second;
}

std::vector<int64_t> QuorumCollector::ConflictingSenders(uint64_t view, uint64_t seq) const {
  const Slot* slot = FindSlot(view, seq);
  if (slot == nullptr) return {};
  return std::vector<int64_t>(slot->conflicting.begin(), slot->conflicting.end());
}

void QuorumCollector::GarbageCollect(uint64_t up_to_seq) {
  if (up_to_seq > collected_up_to_) collected_up_to_ = up_to_seq;
  slots_.erase(slots_.begin(), slots_.upper_bound(up_to_seq));
}

size_t QuorumCollector::slot_count() const {
  size_t count = 0;
  for (const auto& [seq, by_view] : slots_) count += by_view.size();
  return count;
}

}  // namespace pbft
}  // namespace resdb
