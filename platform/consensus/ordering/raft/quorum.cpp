#include "platform/consensus/ordering/raft/quorum.h"

#include <algorithm>
#include <functional>

namespace resdb {
namespace raft {

size_t MajoritySize(size_t voters) { return voters / 2 + 1; }

uint64_t MajorityIndex(std::vector<uint64_t> acked) {
  if (acked.empty()) return 0;
  std::sort(acked.begin(), acked.end(), std::greater<uint64_t>());
  return acked[MajoritySize(acked.size()) - 1];
}

VoteResult TallyVotes(const std::vector<int64_t>& voters, const std::map<int64_t, bool>& votes) {
  size_t granted = 0;
  size_t rejected = 0;
  for (int64_t voter : voters) {
    auto it = votes.find(voter);
    if (it == votes.end()) continue;
    if (it->second) {
      ++granted;
    } else {
      ++rejected;
    }
  }
  const size_t majority = MajoritySize(voters.size());
  if (granted >= majority) return VoteResult::kWon;
  if (voters.size() - rejected < majority) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace raft
}  // namespace resdb
