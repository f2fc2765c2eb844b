#include "platform/consensus/ordering/raft/read_only.h"

#include <gtest/gtest.h>

namespace resdb {
namespace raft {
namespace {

const std::vector<int64_t> kVoters = {1, 2, 3, 4, 5};

TEST(ReadOnlyTest, ReadIsConfirmedOnceAMajorityAnsweredItsRound) {
  ReadOnly ro;
  const uint64_t round = ro.Add(/*from=*/1, /*context=*/42, /*index=*/7);
  EXPECT_EQ(ro.last_pending_round(), round);
  EXPECT_TRUE(ro.Ack(2, round, kVoters, 1).empty());
  EXPECT_TRUE(ro.Ack(2, round, kVoters, 1).empty()) << "a repeated answer counts once";
  auto confirmed = ro.Ack(3, round, kVoters, 1);
  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].context, 42u);
  EXPECT_EQ(confirmed[0].index, 7u);
  EXPECT_EQ(ro.last_pending_round(), 0u);
}

TEST(ReadOnlyTest, AnswerToALaterRoundConfirmsEarlierOnes) {
  ReadOnly ro;
  const uint64_t r1 = ro.Add(1, 10, 5);
  const uint64_t r2 = ro.Add(2, 20, 6);
  const uint64_t r3 = ro.Add(1, 30, 6);
  EXPECT_TRUE(ro.Ack(4, r2, kVoters, 1).empty());
  auto confirmed = ro.Ack(5, r3, kVoters, 1);
  // Rounds <= r2 have a majority (1, 4, 5); r3 only has 1 and 5.
  ASSERT_EQ(confirmed.size(), 2u);
  EXPECT_EQ(confirmed[0].context, 10u);
  EXPECT_EQ(confirmed[1].from, 2);
  EXPECT_EQ(ro.pending_count(), 1u);
  EXPECT_LT(r1, r2);
}

TEST(ReadOnlyTest, ResetReturnsPendingReadsAndForgetsAnswers) {
  ReadOnly ro;
  const uint64_t r1 = ro.Add(1, 10, 5);
  ro.Ack(2, r1, kVoters, 1);
  auto dropped = ro.Reset();
  ASSERT_EQ(dropped.size(), 1u);
  const uint64_t r2 = ro.Add(1, 11, 6);
  EXPECT_GT(r2, r1);
  EXPECT_TRUE(ro.Ack(3, r2, kVoters, 1).empty()) << "node 2's old answer was forgotten";
}

}  // namespace
}  // namespace raft
}  // namespace resdb
