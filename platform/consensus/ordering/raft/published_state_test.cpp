#include "platform/consensus/ordering/raft/published_state.h"

#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/testing/raft_test_network.h"

namespace resdb {
namespace raft {
namespace {

TEST(PublishedStateTest, ThePublishedNodeAndTheLastKnownLeader) {
  raft_test::Network net(3);
  const int64_t leader = net.TickUntilLeader();
  ASSERT_NE(leader, 0);
  net.Stabilize();
  PublishedState published;
  published.Publish(net.node(leader));
  EXPECT_EQ(published.leader(), leader);
  EXPECT_EQ(published.term(), net.node(leader).term());
  ReplicaStatus status;
  published.Fill(&status);
  EXPECT_EQ(status.role(), "leader");
  EXPECT_EQ(status.commit_index(), net.node(leader).commit_index());
  EXPECT_EQ(status.last_index(), net.node(leader).last_index());

  published.SetLeader(0);
  EXPECT_EQ(published.leader(), 0);
  EXPECT_EQ(published.leader_hint(), leader);
}

TEST(PublishedStateTest, TheSnapshotIndexNeverGoesBack) {
  PublishedState published;
  published.SetSnapshot(10);
  published.SetSnapshot(4);
  EXPECT_EQ(published.snapshot_index(), 10u);
  published.SetApplied(12);
  ReplicaStatus status;
  published.Fill(&status);
  EXPECT_EQ(status.applied_index(), 12u);
  EXPECT_EQ(status.snapshot_index(), 10u);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
