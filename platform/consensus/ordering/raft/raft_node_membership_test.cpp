// Membership change in RaftNode: learners, one-server changes, a removed leader, and how the
// configuration follows the log through truncation, restarts and snapshots.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/testing/raft_test_network.h"

namespace resdb {
namespace raft {
namespace {

using raft_test::ElectViaCampaign;
using raft_test::Network;
using raft_test::PayloadsOf;

std::string Describe(const RaftNode& node) { return DescribeMembership(node.membership()); }

// Proposes `change` on `leader` and runs the cluster until nothing is left to do.
void Change(Network& net, int64_t leader, MembershipChange change, int64_t id) {
  auto index = net.node(leader).ProposeMembership(change, id, "127.0.0.1:" + std::to_string(id));
  ASSERT_TRUE(index.ok()) << index.status();
  net.Stabilize();
  EXPECT_GE(net.node(leader).commit_index(), *index);
}

// Proposes on `leader`, runs the cluster and tells whether the proposal committed.
bool Commits(Network& net, int64_t leader, const std::string& data) {
  auto index = net.node(leader).Propose(data);
  if (!index.ok()) return false;
  net.Stabilize();
  return net.node(leader).commit_index() >= *index;
}

TEST(RaftMembershipTest, JoiningNodeWithoutMembershipNeverCampaigns) {
  Network net(3);
  net.AddNode(4, RaftNodeOptions());
  for (int t = 0; t < 100; ++t) net.node(4).Tick();
  EXPECT_FALSE(net.node(4).HasReady());
  EXPECT_TRUE(absl::IsFailedPrecondition(net.node(4).Campaign()));
  EXPECT_EQ(Describe(net.node(4)), "voters [] learners []");
}

TEST(RaftMembershipTest, LearnerReceivesTheLogButNeitherVotesNorCounts) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  ASSERT_TRUE(Commits(net, leader, "before"));
  net.AddNode(4, RaftNodeOptions());
  Change(net, leader, MembershipChange::kAddLearner, 4);

  EXPECT_EQ(Describe(net.node(4)), "voters [1, 2, 3] learners [4]");
  EXPECT_EQ(net.node(4).membership().addresses().at(4), "127.0.0.1:4");
  EXPECT_EQ(net.node(4).commit_index(), net.node(leader).commit_index());
  EXPECT_EQ(net.storage(4).applied.size(), net.storage(leader).applied.size());
  EXPECT_TRUE(absl::IsFailedPrecondition(net.node(4).Campaign()));
  EXPECT_TRUE(absl::IsInvalidArgument(net.node(leader).TransferLeadership(4)));

  // Leader and learner alone are no majority of three voters.
  net.Isolate(2);
  net.Isolate(3);
  EXPECT_FALSE(Commits(net, leader, "needs a voter"));
  net.Heal();
  net.node(leader).Tick();
  net.Stabilize();
  EXPECT_EQ(net.node(4).commit_index(), net.node(leader).commit_index());
}

TEST(RaftMembershipTest, PromotedLearnerCountsTowardTheMajority) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  net.AddNode(4, RaftNodeOptions());
  Change(net, leader, MembershipChange::kAddLearner, 4);
  Change(net, leader, MembershipChange::kAddVoter, 4);
  EXPECT_EQ(Describe(net.node(2)), "voters [1, 2, 3, 4] learners []");

  // Four voters need three: {1, 2} is not enough, {1, 2, 4} is.
  net.Isolate(3);
  net.Isolate(4);
  EXPECT_FALSE(Commits(net, leader, "two of four"));
  net.Heal();
  net.Isolate(3);
  EXPECT_TRUE(Commits(net, leader, "three of four"));

  // The new voter can be elected.
  net.Heal();
  ASSERT_TRUE(net.node(leader).TransferLeadership(4).ok());
  net.Stabilize();
  EXPECT_EQ(net.node(4).role(), Role::kLeader);
}

TEST(RaftMembershipTest, OneChangeAtATimeAndOnlyFromALeaderThatCommittedInItsTerm) {
  Network net(3);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      net.node(1).ProposeMembership(MembershipChange::kAddLearner, 4, "").status()));

  // Elected, but the entry of its term is not acknowledged yet.
  ASSERT_TRUE(net.node(1).Campaign().ok());
  while (net.node(1).role() != Role::kLeader) {
    net.ProcessAllReady();
    net.DeliverAll();
  }
  EXPECT_TRUE(absl::IsFailedPrecondition(
      net.node(1).ProposeMembership(MembershipChange::kAddLearner, 4, "").status()));
  net.Stabilize();

  net.AddNode(4, RaftNodeOptions());
  auto first = net.node(1).ProposeMembership(MembershipChange::kAddLearner, 4, "");
  ASSERT_TRUE(first.ok());
  const absl::Status second =
      net.node(1).ProposeMembership(MembershipChange::kRemove, 3, "").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(second)) << second;
  EXPECT_NE(second.message().find("not committed"), std::string::npos) << second;
  net.Stabilize();
  EXPECT_TRUE(absl::IsAlreadyExists(
      net.node(1).ProposeMembership(MembershipChange::kAddLearner, 4, "").status()));
  EXPECT_TRUE(
      absl::IsNotFound(net.node(1).ProposeMembership(MembershipChange::kRemove, 9, "").status()));
  EXPECT_TRUE(net.node(1).ProposeMembership(MembershipChange::kRemove, 3, "").ok());
}

TEST(RaftMembershipTest, RemovedFollowerStopsCountingAndNeverCampaigns) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  Change(net, leader, MembershipChange::kRemove, 3);
  EXPECT_EQ(Describe(net.node(3)), "voters [1, 2] learners []");
  EXPECT_EQ(net.node(leader).progress(3), nullptr);

  net.ClearSent();
  for (int t = 0; t < 100; ++t) net.node(3).Tick();
  net.Stabilize();
  EXPECT_TRUE(PayloadsOf<RequestVoteRequest>(net.sent(), 3).empty());
  // Two voters: both are needed now.
  net.Isolate(2);
  EXPECT_FALSE(Commits(net, leader, "alone"));
  net.Heal();
  net.node(leader).Tick();
  net.Stabilize();
  EXPECT_TRUE(Commits(net, leader, "with 2"));
}

TEST(RaftMembershipTest, RemovedLeaderStepsDownAfterTheCommitAndHandsOver) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  auto index = net.node(leader).ProposeMembership(MembershipChange::kRemove, 1, "");
  ASSERT_TRUE(index.ok());
  // Until the change commits the leader keeps leading, without counting itself.
  EXPECT_EQ(net.node(leader).role(), Role::kLeader);
  net.Stabilize();
  EXPECT_NE(net.node(1).role(), Role::kLeader);
  EXPECT_EQ(Describe(net.node(1)), "voters [2, 3] learners []");
  // TimeoutNow made the most up-to-date voter campaign at once: no election timeout needed.
  const int64_t successor = net.Leader();
  ASSERT_TRUE(successor == 2 || successor == 3) << successor;
  EXPECT_GE(net.node(successor).commit_index(), *index);
  EXPECT_TRUE(Commits(net, successor, "after"));
  EXPECT_TRUE(absl::IsFailedPrecondition(net.node(1).Campaign()));
}

TEST(RaftMembershipTest, LeaderRemovingItselfDoesNotCountItsOwnAcknowledgement) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  net.Isolate(2);
  ASSERT_TRUE(net.node(leader).ProposeMembership(MembershipChange::kRemove, 1, "").ok());
  net.Stabilize();
  // Voters [2, 3]: node 3 alone is no majority, though with the leader it would be two of three.
  EXPECT_EQ(net.node(leader).role(), Role::kLeader);
  EXPECT_LT(net.node(leader).commit_index(), net.node(leader).membership_index());
}

TEST(RaftMembershipTest, OverwrittenConfigEntryBringsBackTheEarlierMembership) {
  Network net(5);
  const int64_t leader = ElectViaCampaign(net, 1);
  net.AddNode(6, RaftNodeOptions());
  ASSERT_TRUE(net.node(leader).ProposeMembership(MembershipChange::kAddLearner, 6, "").ok());
  net.ProcessReady(leader);
  // Only node 5 receives the entry; nothing comes back.
  auto& queue = net.queue();
  for (auto it = queue.begin(); it != queue.end();) {
    it = it->to == 5 ? std::next(it) : queue.erase(it);
  }
  net.DeliverAll();
  EXPECT_EQ(Describe(net.node(5)), "voters [1, 2, 3, 4, 5] learners [6]");
  net.queue().clear();

  net.Isolate(1);
  net.Isolate(5);
  const int64_t next = net.TickUntilLeader();
  ASSERT_TRUE(next >= 2 && next <= 4) << next;
  ASSERT_TRUE(Commits(net, next, "new term"));
  net.Heal();
  for (int t = 0; t < 30 && net.node(5).commit_index() < net.node(next).commit_index(); ++t) {
    net.TickAll();
    net.Stabilize();
  }
  EXPECT_EQ(net.node(5).commit_index(), net.node(next).commit_index());
  EXPECT_EQ(Describe(net.node(5)), "voters [1, 2, 3, 4, 5] learners []");
  EXPECT_EQ(Describe(net.node(1)), "voters [1, 2, 3, 4, 5] learners []");
}

TEST(RaftMembershipTest, RestartRebuildsTheMembershipFromTheLog) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  Change(net, leader, MembershipChange::kRemove, 3);
  net.Restart(2);
  EXPECT_EQ(Describe(net.node(2)), "voters [1, 2] learners []");
  // A restored membership overrides CONFIG entries at or below its index.
  RaftRestoredState restored;
  restored.entries.push_back(net.storage(2).log.at(1));
  Entry config = net.storage(2).log.rbegin()->second;
  ASSERT_EQ(config.type(), Entry::CONFIG);
  restored.entries.clear();
  for (const auto& [i, e] : net.storage(2).log) restored.entries.push_back(e);
  Membership later;
  later.add_voters(1);
  later.add_voters(2);
  later.add_learners(7);
  restored.membership = later;
  restored.membership_index = config.index();
  RaftNodeOptions options;
  options.id = 2;
  options.voters = {1, 2, 3};
  RaftNode node(options, restored);
  EXPECT_EQ(Describe(node), "voters [1, 2] learners [7]");
}

TEST(RaftMembershipTest, SnapshotCarriesTheMembershipToANodeTheLogNoLongerCovers) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  net.AddNode(4, RaftNodeOptions());
  net.Isolate(4);
  Change(net, leader, MembershipChange::kAddLearner, 4);
  ASSERT_TRUE(Commits(net, leader, "x"));
  const uint64_t applied = net.node(leader).applied_index();
  ASSERT_TRUE(net.node(leader).CompactTo(applied).ok());
  net.Heal();
  for (int t = 0; t < 5; ++t) {
    net.node(leader).Tick();
    net.Stabilize();
  }
  ASSERT_EQ(net.node(leader).FollowersNeedingSnapshot(), std::vector<int64_t>{4});

  SnapshotMetadata metadata;
  metadata.set_last_included_index(applied);
  metadata.set_last_included_term(*net.node(leader).TermAt(applied));
  *metadata.mutable_membership() = net.node(leader).MembershipAt(applied);
  ASSERT_TRUE(net.InstallSnapshot(4, metadata).ok());
  net.Stabilize();
  EXPECT_EQ(Describe(net.node(4)), "voters [1, 2, 3] learners [4]");
  EXPECT_TRUE(Commits(net, leader, "y"));
  EXPECT_EQ(net.node(4).commit_index(), net.node(leader).commit_index());
}

}  // namespace
}  // namespace raft
}  // namespace resdb
