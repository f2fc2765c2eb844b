#include "platform/consensus/ordering/pbft/quorum_collector.h"

#include <gtest/gtest.h>

namespace resdb {
namespace pbft {
namespace {

// n = 4, f = 1, quorum 2f+1 = 3.
constexpr size_t kQuorum = 3;

class QuorumCollectorTest : public ::testing::Test {
 protected:
  Watermarks watermarks_{100};
  QuorumCollector collector_{kQuorum, &watermarks_};
};

TEST_F(QuorumCollectorTest, QuorumCollector_ReportsQuorumAtTwoFPlusOneMatchingVotes) {
  EXPECT_FALSE(collector_.Add(0, 1, "d", 1));
  EXPECT_FALSE(collector_.Add(0, 1, "d", 2));
  EXPECT_FALSE(collector_.HasQuorum(0, 1, "d"));
  EXPECT_TRUE(collector_.Add(0, 1, "d", 3));
  EXPECT_TRUE(collector_.HasQuorum(0, 1, "d"));
  EXPECT_EQ(collector_.MatchingVotes(0, 1, "d"), 3u);
  EXPECT_EQ(collector_.Voters(0, 1, "d"), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(QuorumCollectorTest, QuorumCollector_ReportsQuorumExactlyOnce) {
  collector_.Add(0, 1, "d", 1);
  collector_.Add(0, 1, "d", 2);
  EXPECT_TRUE(collector_.Add(0, 1, "d", 3));
  // A fourth matching vote is counted but does not report the quorum again.
  EXPECT_FALSE(collector_.Add(0, 1, "d", 4));
  EXPECT_EQ(collector_.MatchingVotes(0, 1, "d"), 4u);
  EXPECT_FALSE(collector_.Add(0, 1, "d", 3));
}

TEST_F(QuorumCollectorTest, QuorumCollector_CountsEachSenderOnce) {
  EXPECT_FALSE(collector_.Add(0, 1, "d", 1));
  EXPECT_FALSE(collector_.Add(0, 1, "d", 1));
  EXPECT_FALSE(collector_.Add(0, 1, "d", 1));
  EXPECT_FALSE(collector_.Add(0, 1, "d", 2));
  EXPECT_FALSE(collector_.Add(0, 1, "d", 2));
  EXPECT_EQ(collector_.MatchingVotes(0, 1, "d"), 2u);
  EXPECT_FALSE(collector_.HasQuorum(0, 1, "d"));
  EXPECT_EQ(collector_.duplicate_count(), 3u);
}

TEST_F(QuorumCollectorTest, QuorumCollector_RecordsConflictingVoteWithoutCountingItTwice) {
  EXPECT_FALSE(collector_.Add(0, 1, "a", 1));
  // Sender 1 changes its mind: recorded as conflicting, not counted for "b".
  EXPECT_FALSE(collector_.Add(0, 1, "b", 1));
  EXPECT_EQ(collector_.MatchingVotes(0, 1, "a"), 1u);
  EXPECT_EQ(collector_.MatchingVotes(0, 1, "b"), 0u);
  EXPECT_EQ(collector_.ConflictingSenders(0, 1), (std::vector<int64_t>{1}));
  EXPECT_EQ(collector_.conflict_count(), 1u);
  // Repeating the conflict does not count it again.
  EXPECT_FALSE(collector_.Add(0, 1, "c", 1));
  EXPECT_EQ(collector_.conflict_count(), 1u);

  // "b" cannot reach a quorum with sender 1's second vote.
  EXPECT_FALSE(collector_.Add(0, 1, "b", 2));
  EXPECT_FALSE(collector_.Add(0, 1, "b", 3));
  EXPECT_TRUE(collector_.Add(0, 1, "b", 4));
  EXPECT_EQ(collector_.Voters(0, 1, "b"), (std::vector<int64_t>{2, 3, 4}));
}

TEST_F(QuorumCollectorTest, QuorumCollector_DifferentDigestsDoNotMatch) {
  collector_.Add(0, 1, "a", 1);
  collector_.Add(0, 1, "a", 2);
  EXPECT_FALSE(collector_.Add(0, 1, "b", 3));
  EXPECT_FALSE(collector_.HasQuorum(0, 1, "a"));
  EXPECT_FALSE(collector_.HasQuorum(0, 1, "b"));
  EXPECT_TRUE(collector_.ConflictingSenders(0, 1).empty());
}

TEST_F(QuorumCollectorTest, QuorumCollector_KeepsViewsAndSeqsApart) {
  collector_.Add(0, 1, "d", 1);
  collector_.Add(1, 1, "d", 2);
  collector_.Add(0, 2, "d", 3);
  EXPECT_EQ(collector_.MatchingVotes(0, 1, "d"), 1u);
  EXPECT_EQ(collector_.MatchingVotes(1, 1, "d"), 1u);
  EXPECT_EQ(collector_.MatchingVotes(0, 2, "d"), 1u);
  // The same sender voting in another view is not a conflict.
  EXPECT_FALSE(collector_.Add(1, 1, "other", 1));
  EXPECT_TRUE(collector_.ConflictingSenders(1, 1).empty());
  EXPECT_EQ(collector_.slot_count(), 3u);
}

TEST_F(QuorumCollectorTest, QuorumCollector_RefusesSeqOutsideWatermarks) {
  EXPECT_FALSE(collector_.Add(0, 0, "d", 1));
  EXPECT_FALSE(collector_.Add(0, 101, "d", 1));
  EXPECT_EQ(collector_.refused_count(), 2u);
  EXPECT_EQ(collector_.slot_count(), 0u);

  watermarks_.Advance(50);
  EXPECT_FALSE(collector_.Add(0, 50, "d", 1));
  EXPECT_FALSE(collector_.Add(0, 10, "d", 1));
  EXPECT_FALSE(collector_.Add(0, 151, "d", 1));
  EXPECT_EQ(collector_.slot_count(), 0u);
  collector_.Add(0, 150, "d", 1);
  EXPECT_EQ(collector_.MatchingVotes(0, 150, "d"), 1u);
}

TEST_F(QuorumCollectorTest, QuorumCollector_RefusesEmptyDigest) {
  EXPECT_FALSE(collector_.Add(0, 1, "", 1));
  EXPECT_EQ(collector_.refused_count(), 1u);
  EXPECT_EQ(collector_.slot_count(), 0u);
}

TEST_F(QuorumCollectorTest, QuorumCollector_GarbageCollectDropsSeqsAtOrBelow) {
  for (uint64_t seq = 1; seq <= 5; ++seq) collector_.Add(0, seq, "d", 1);
  collector_.Add(1, 3, "d", 1);
  EXPECT_EQ(collector_.slot_count(), 6u);

  collector_.GarbageCollect(3);
  EXPECT_EQ(collector_.slot_count(), 2u);
  EXPECT_EQ(collector_.MatchingVotes(0, 3, "d"), 0u);
  EXPECT_EQ(collector_.MatchingVotes(1, 3, "d"), 0u);
  EXPECT_EQ(collector_.MatchingVotes(0, 4, "d"), 1u);
}

TEST_F(QuorumCollectorTest, QuorumCollector_NeverReportsCollectedSeqAgain) {
  collector_.Add(0, 3, "d", 1);
  collector_.Add(0, 3, "d", 2);
  EXPECT_TRUE(collector_.Add(0, 3, "d", 3));
  collector_.GarbageCollect(3);
  // Late votes for a collected seq are refused even while the watermarks still cover it.
  ASSERT_TRUE(watermarks_.InWindow(3));
  EXPECT_FALSE(collector_.Add(0, 3, "d", 1));
  EXPECT_FALSE(collector_.Add(0, 3, "d", 2));
  EXPECT_FALSE(collector_.Add(0, 3, "d", 3));
  EXPECT_EQ(collector_.slot_count(), 0u);
  // Collection never moves backwards.
  collector_.GarbageCollect(1);
  EXPECT_FALSE(collector_.Add(0, 2, "d", 1));
}

TEST(QuorumCollectorThresholdTest, QuorumCollector_ThresholdIsConfigurable) {
  Watermarks watermarks(10);
  // n = 7, f = 2, 2f+1 = 5.
  QuorumCollector collector(5, &watermarks);
  EXPECT_EQ(collector.threshold(), 5u);
  for (int64_t sender = 1; sender <= 4; ++sender) {
    EXPECT_FALSE(collector.Add(0, 1, "d", sender));
  }
  EXPECT_TRUE(collector.Add(0, 1, "d", 5));
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
