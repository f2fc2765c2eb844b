#include "platform/consensus/ordering/raft/quorum.h"

#include <gtest/gtest.h>

namespace resdb {
namespace raft {
namespace {

TEST(QuorumTest, MajorityOfOddAndEvenClusters) {
  EXPECT_EQ(MajoritySize(1), 1u);
  EXPECT_EQ(MajoritySize(3), 2u);
  EXPECT_EQ(MajoritySize(4), 3u);
  EXPECT_EQ(MajoritySize(5), 3u);
}

TEST(QuorumTest, MajorityIndexIsReachedByAMajority) {
  EXPECT_EQ(MajorityIndex({}), 0u);
  EXPECT_EQ(MajorityIndex({7}), 7u);
  EXPECT_EQ(MajorityIndex({5, 3, 9}), 5u);
  EXPECT_EQ(MajorityIndex({1, 2, 3, 4}), 2u);
  EXPECT_EQ(MajorityIndex({10, 10, 0, 0, 4}), 4u);
}

TEST(QuorumTest, TallyVotesWinsLosesOrWaits) {
  const std::vector<int64_t> voters = {1, 2, 3, 4, 5};
  EXPECT_EQ(TallyVotes(voters, {{1, true}, {2, true}}), VoteResult::kPending);
  EXPECT_EQ(TallyVotes(voters, {{1, true}, {2, true}, {3, true}}), VoteResult::kWon);
  EXPECT_EQ(TallyVotes(voters, {{1, true}, {2, false}, {3, false}}), VoteResult::kPending);
  EXPECT_EQ(TallyVotes(voters, {{1, true}, {2, false}, {3, false}, {4, false}}), VoteResult::kLost);
  // Answers from non-voters do not count.
  EXPECT_EQ(TallyVotes(voters, {{1, true}, {8, true}, {9, true}}), VoteResult::kPending);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
