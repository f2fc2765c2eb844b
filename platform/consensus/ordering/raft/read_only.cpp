#include "platform/consensus/ordering/raft/read_only.h"

#include "platform/consensus/ordering/raft/quorum.h"

namespace resdb {
namespace raft {

uint64_t ReadOnly::Add(int64_t from, uint64_t context, uint64_t index) {
  const uint64_t round = next_round_++;
  pending_.push_back(Pending{round, ReadRequest{from, context, index}});
  return round;
}

uint64_t ReadOnly::last_pending_round() const {
  return pending_.empty() ? 0 : pending_.back().round;
}

std::vector<ReadRequest> ReadOnly::Ack(int64_t peer, uint64_t round,
                                       const std::vector<int64_t>& voters, int64_t self) {
  std::vector<ReadRequest> confirmed;
  if (round == 0 || pending_.empty()) return confirmed;
  uint64_t& acked = acked_round_[peer];
  if (round > acked) acked = round;

  std::vector<uint64_t> rounds;
  rounds.reserve(voters.size());
  for (int64_t voter : voters) {
    if (voter == self) {
      rounds.push_back(pending_.back().round);
      continue;
    }
    auto it = acked_round_.find(voter);
    rounds.push_back(it == acked_round_.end() ? 0 : it->second);
  }
  const uint64_t quorum_round = MajorityIndex(rounds);
  while (!pending_.empty() && pending_.front().round <= quorum_round) {
    confirmed.push_back(pending_.front().request);
    pending_.pop_front();
  }
  return confirmed;
}

std::vector<ReadRequest> ReadOnly::Reset() {
  std::vector<ReadRequest> dropped;
  for (const Pending& p : pending_) dropped.push_back(p.request);
  pending_.clear();
  acked_round_.clear();
  return dropped;
}

}  // namespace raft
}  // namespace resdb
