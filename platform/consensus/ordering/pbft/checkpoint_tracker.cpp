#include "platform/consensus/ordering/pbft/checkpoint_tracker.h"

#include <utility>

namespace resdb {
namespace pbft {

CheckpointTracker::CheckpointTracker(uint64_t checkpoint_interval, size_t threshold,
                                     uint64_t max_ahead)
    : interval_(checkpoint_interval), threshold_(threshold), max_ahead_(max_ahead) {}

bool CheckpointTracker::Acceptable(uint64_t seq, const std::string& digest) const {
  if (digest.empty() || interval_ == 0 || threshold_ == 0) return false;
  if (seq == 0 || seq % interval_ != 0) return false;
  if (seq <= stable_.seq()) return false;
  if (max_ahead_ > 0 && seq - stable_.seq() > max_ahead_) return false;
  return true;
}

std::optional<uint64_t> CheckpointTracker::Add(uint64_t seq, const std::string& digest,
                                               int64_t sender,
                                               const SignedMessage& signed_checkpoint) {
  if (!Acceptable(seq, digest)) {
    ++refused_;
    return std::nullopt;
  }
  Pending& pending = pending_[seq];
  auto [it, inserted] = pending.digest_of.emplace(sender, digest);
  if (!inserted) {
    if (it->second != digest && pending.conflicting.insert(sender).second) ++conflicts_;
    return std::nullopt;
  }
  std::vector<SignedMessage>& votes = pending.votes[digest];
  votes.push_back(signed_checkpoint);
  if (votes.size() < threshold_) return std::nullopt;

  stable_.Clear();
  stable_.set_seq(seq);
  stable_.set_digest(digest);
  for (SignedMessage& vote : votes) *stable_.add_checkpoints() = std::move(vote);
  pending_.erase(pending_.begin(), pending_.upper_bound(seq));
  return seq;
}

void CheckpointTracker::AdoptStable(CheckpointProof proof) {
  if (proof.seq() <= stable_.seq()) return;
  pending_.erase(pending_.begin(), pending_.upper_bound(proof.seq()));
  stable_ = std::move(proof);
}

size_t CheckpointTracker::MatchingVotes(uint64_t seq, const std::string& digest) const {
  auto it = pending_.find(seq);
  if (it == pending_.end()) return 0;
  auto votes = it->second.votes.find(digest);
  return votes == it->second.votes.end() ? 0 : votes->second.size();
}

std::vector<int64_t> CheckpointTracker::ConflictingSenders(uint64_t seq) const {
  auto it = pending_.find(seq);
  if (it == pending_.end()) return {};
  return std::vector<int64_t>(it->second.conflicting.begin(), it->second.conflicting.end());
}

}  // namespace pbft
}  // namespace resdb
