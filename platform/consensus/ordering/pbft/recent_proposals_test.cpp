#include "platform/consensus/ordering/pbft/recent_proposals.h"

#include "gtest/gtest.h"

namespace resdb {
namespace pbft {
namespace {

TEST(RecentProposalsTest, ASecondCopyIsRefused) {
  RecentProposals recent(10);
  EXPECT_TRUE(recent.Add(7, 1));
  EXPECT_FALSE(recent.Add(7, 1));
  EXPECT_TRUE(recent.Add(7, 2));
  EXPECT_TRUE(recent.Add(8, 1));
  EXPECT_EQ(recent.size(), 3u);
}

TEST(RecentProposalsTest, TheOldestKeyIsForgottenFirst) {
  RecentProposals recent(2);
  EXPECT_TRUE(recent.Add(7, 1));
  EXPECT_TRUE(recent.Add(7, 2));
  EXPECT_TRUE(recent.Add(7, 3));
  EXPECT_EQ(recent.size(), 2u);
  EXPECT_FALSE(recent.Add(7, 3));
  EXPECT_FALSE(recent.Add(7, 2));
  EXPECT_TRUE(recent.Add(7, 1));
}

TEST(RecentProposalsTest, ClearForgetsEverything) {
  RecentProposals recent(10);
  EXPECT_TRUE(recent.Add(7, 1));
  recent.Clear();
  EXPECT_EQ(recent.size(), 0u);
  EXPECT_TRUE(recent.Add(7, 1));
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
