#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_QUORUM_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_QUORUM_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace resdb {
namespace raft {

// Majority arithmetic over a single set of voters.

// Number of voters that make a majority of `voters` (n / 2 + 1).
size_t MajoritySize(size_t voters);

// The largest value that a majority of voters have reached: given one acknowledged index
// per voter, the MajoritySize()-th largest of them. Returns 0 for an empty input.
uint64_t MajorityIndex(std::vector<uint64_t> acked);

enum class VoteResult { kPending, kLost, kWon };

// Outcome of an election among `voters` given the answers in `votes` (voter -> granted).
// Answers from non-voters are ignored. kWon once a majority granted, kLost once a majority
// can no longer be reached, kPending otherwise.
VoteResult TallyVotes(const std::vector<int64_t>& voters, const std::map<int64_t, bool>& votes);

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_QUORUM_H_
