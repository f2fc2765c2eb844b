#include "platform/consensus/ordering/raft/simulation/proposal_tracker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace resdb {
namespace raft {

std::string ProposalTracker::NextPayload() { return absl::StrCat("p", next_payload_++); }

void ProposalTracker::OnNoLeader() { ++no_leader_; }

void ProposalTracker::OnRejected() { ++rejected_; }

void ProposalTracker::OnAccepted(const std::string& payload, int64_t node, uint64_t incarnation,
                                 uint64_t index, uint64_t term) {
  Proposal p;
  p.payload = payload;
  p.node = node;
  p.incarnation = incarnation;
  p.index = index;
  p.term = term;
  by_payload_[payload] = proposals_.size();
  pending_[{node, incarnation, index}] = proposals_.size();
  proposals_.push_back(std::move(p));
}

std::string ProposalTracker::OnApplied(int64_t node, uint64_t incarnation, const Entry& entry) {
  std::string problem;
  if (entry.type() == Entry::NORMAL) {
    auto it = by_payload_.find(entry.data());
    if (it != by_payload_.end()) {
      Proposal& p = proposals_[it->second];
      if (p.applied_index != 0 && p.applied_index != entry.index()) {
        problem = absl::StrCat("proposal ", p.payload, " applied at index ", p.applied_index,
                               " and at index ", entry.index());
      }
      // A proposal reported dropped may still commit through another leader (its outcome
      // was unknown, not failed): applied_index records that it did.
      if (p.applied_index == 0) p.applied_index = entry.index();
    }
  }
  auto pending = pending_.find({node, incarnation, entry.index()});
  if (pending != pending_.end()) {
    Proposal& p = proposals_[pending->second];
    pending_.erase(pending);
    if (entry.data() == p.payload && entry.type() == Entry::NORMAL) {
      p.state = State::kAcked;
      max_acked_index_ = std::max(max_acked_index_, p.index);
    } else if (problem.empty()) {
      // The applying instance accepted the proposal at this index, so its entry there was
      // overwritten; the contract says it reports that through dropped_proposals first.
      p.state = State::kDropped;
      problem = absl::StrCat("node ", node, " proposal ", p.payload, " at index ", p.index,
                             " term ", p.term, " was replaced by entry (term ", entry.term(),
                             ", data '", entry.data(), "') without a dropped_proposals report");
    }
  }
  return problem;
}

std::string ProposalTracker::OnDropped(int64_t node, uint64_t incarnation, uint64_t index,
                                       const std::string& reason, bool by_snapshot) {
  auto pending = pending_.find({node, incarnation, index});
  if (pending == pending_.end()) {
    return absl::StrCat("node ", node, " reported proposal id ", index,
                        " dropped, but it has no pending proposal with that id (", reason, ")");
  }
  Proposal& p = proposals_[pending->second];
  pending_.erase(pending);
  if (!by_snapshot && p.applied_index != 0 && p.applied_index <= index) {
    return absl::StrCat("node ", node, " reported proposal ", p.payload,
                        " dropped, but it was already committed at index ", p.applied_index);
  }
  p.state = State::kDropped;
  return "";
}

void ProposalTracker::OnCrash(int64_t node, uint64_t incarnation) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (std::get<0>(it->first) == node && std::get<1>(it->first) == incarnation) {
      proposals_[it->second].state = State::kOrphaned;
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t ProposalTracker::pending(int64_t node) const {
  size_t n = 0;
  for (const auto& [key, position] : pending_) {
    if (std::get<0>(key) == node) ++n;
  }
  return n;
}

ProposalTracker::Counts ProposalTracker::counts() const {
  Counts c;
  c.no_leader = no_leader_;
  c.rejected = rejected_;
  c.accepted = proposals_.size();
  c.submitted = c.accepted + no_leader_ + rejected_;
  for (const Proposal& p : proposals_) {
    switch (p.state) {
      case State::kPending:
        ++c.pending;
        break;
      case State::kAcked:
        ++c.acked;
        break;
      case State::kDropped:
        ++c.dropped;
        break;
      case State::kOrphaned:
        ++c.orphaned;
        break;
    }
    if (p.applied_index != 0) ++c.committed;
  }
  return c;
}

}  // namespace raft
}  // namespace resdb
