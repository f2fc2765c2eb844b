#include "platform/consensus/ordering/raft/raft_node.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "platform/consensus/ordering/raft/testing/raft_test_network.h"

namespace resdb {
namespace raft {
namespace {

using raft_test::ElectViaCampaign;
using raft_test::EntryAppends;
using raft_test::LogWithTerms;
using raft_test::MakeEntry;
using raft_test::Network;
using raft_test::NodeStorage;
using raft_test::PayloadsOf;
using raft_test::ThreeNodeOptions;
using raft_test::VoteResponse;

// ---------------------------------------------------------------------------
// Leader election (Raft 5.2)

TEST(RaftNodeTest, LeaderElection_CandidateWithMajorityBecomesLeaderInThreeNodes) {
  Network net(3);
  const int64_t leader = net.TickUntilLeader();
  ASSERT_NE(leader, 0);
  for (int64_t id : net.ids()) {
    EXPECT_EQ(net.node(id).term(), net.node(leader).term());
    EXPECT_EQ(net.node(id).leader_id(), leader);
    if (id != leader) {
      EXPECT_EQ(net.node(id).role(), Role::kFollower);
    }
  }
}

TEST(RaftNodeTest, LeaderElection_CandidateWithMajorityBecomesLeaderInFiveNodes) {
  Network net(5);
  const int64_t leader = net.TickUntilLeader();
  ASSERT_NE(leader, 0);
  EXPECT_EQ(net.node(leader).term(), 1u);
  int leaders = 0;
  for (int64_t id : net.ids()) {
    if (net.node(id).role() == Role::kLeader) ++leaders;
    EXPECT_EQ(net.node(id).leader_id(), leader);
  }
  EXPECT_EQ(leaders, 1);
}

TEST(RaftNodeTest, LeaderElection_SplitVoteIsResolvedByRandomizedTimeouts) {
  Network net(4, [](RaftNodeOptions& o) { o.pre_vote = false; });
  // Nodes 1 and 2 campaign at once; 3 only hears 1 and 4 only hears 2: two votes each,
  // three needed.
  net.Cut(1, 4);
  net.Cut(2, 3);
  ASSERT_TRUE(net.node(1).Campaign().ok());
  ASSERT_TRUE(net.node(2).Campaign().ok());
  net.Stabilize();
  EXPECT_EQ(net.node(1).role(), Role::kCandidate);
  EXPECT_EQ(net.node(2).role(), Role::kCandidate);
  EXPECT_EQ(net.Leader(), 0);
  net.Heal();

  // Timeouts drawn from [10, 20] differ per node, so one candidate times out first and
  // wins the next term.
  const int64_t leader = net.TickUntilLeader();
  ASSERT_NE(leader, 0);
  EXPECT_GE(net.node(leader).term(), 2u);
  for (int64_t id : net.ids()) EXPECT_EQ(net.node(id).leader_id(), leader);
}

TEST(RaftNodeTest, LeaderElection_NodeWithStaleLogCannotWin) {
  std::map<int64_t, RaftRestoredState> restored = {
      {1, LogWithTerms({1, 1, 2}, 2)},
      {2, LogWithTerms({1, 1, 2}, 2)},
      {3, LogWithTerms({1}, 2)},
  };
  Network net(
      3, [](RaftNodeOptions& o) { o.pre_vote = false; }, restored);
  ASSERT_TRUE(net.node(3).Campaign().ok());
  net.Stabilize();
  EXPECT_NE(net.node(3).role(), Role::kLeader);
  for (const RequestVoteResponse& r : PayloadsOf<RequestVoteResponse>(net.sent(), 0, 3)) {
    EXPECT_FALSE(r.vote_granted()) << "voter " << r.voter_id();
  }
  // A node with an up-to-date log then wins, and node 3's log is repaired.
  ElectViaCampaign(net, 1);
  net.Stabilize();
  EXPECT_EQ(net.node(3).last_index(), net.node(1).last_index());
}

TEST(RaftNodeTest, LeaderElection_VoteIsPersistedInTheSameReadyBeforeTheResponse) {
  RaftNode node(ThreeNodeOptions(2));
  RequestVoteRequest req;
  req.set_term(1);
  req.set_candidate_id(1);
  ASSERT_TRUE(node.Step(RaftMessage::Make(1, 2, req)).ok());
  ASSERT_TRUE(node.HasReady());
  Ready rd = node.GetReady();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->current_term(), 1u);
  EXPECT_EQ(rd.hard_state->voted_for(), 1);
  auto responses = PayloadsOf<RequestVoteResponse>(rd.messages);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_TRUE(responses[0].vote_granted());
  node.Advance(rd);

  // The vote is not given twice in one term.
  req.set_candidate_id(3);
  ASSERT_TRUE(node.Step(RaftMessage::Make(3, 2, req)).ok());
  rd = node.GetReady();
  responses = PayloadsOf<RequestVoteResponse>(rd.messages);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_FALSE(responses[0].vote_granted());
}

// ---------------------------------------------------------------------------
// PreVote and CheckQuorum (Raft thesis 9.6, 6.2)

TEST(RaftNodeTest, PreVote_PartitionedNodeDoesNotDisruptLeaderWhenItRejoins) {
  Network net(3);
  const int64_t leader = net.TickUntilLeader();
  ASSERT_NE(leader, 0);
  const uint64_t term = net.node(leader).term();
  const int64_t partitioned = leader == 3 ? 2 : 3;

  net.Isolate(partitioned);
  for (int t = 0; t < 100; ++t) {
    net.TickAll();
    net.Stabilize();
  }
  // Its pre-elections failed, so its term never moved.
  EXPECT_EQ(net.node(partitioned).term(), term);
  EXPECT_NE(net.node(partitioned).role(), Role::kLeader);

  net.Heal();
  for (int t = 0; t < 30; ++t) {
    net.TickAll();
    net.Stabilize();
  }
  EXPECT_EQ(net.node(leader).role(), Role::kLeader);
  EXPECT_EQ(net.node(leader).term(), term);
  EXPECT_EQ(net.node(partitioned).leader_id(), leader);
}

TEST(RaftNodeTest, PreVote_WithoutItARejoiningNodeForcesAnElection) {
  // The contrast case: without PreVote and CheckQuorum the partitioned node's term grows,
  // and its return deposes the leader.
  Network net(3, [](RaftNodeOptions& o) {
    o.pre_vote = false;
    o.check_quorum = false;
  });
  const int64_t leader = net.TickUntilLeader();
  ASSERT_NE(leader, 0);
  const uint64_t term = net.node(leader).term();
  const int64_t partitioned = leader == 3 ? 2 : 3;
  net.Isolate(partitioned);
  for (int t = 0; t < 100; ++t) {
    net.TickAll();
    net.Stabilize();
  }
  EXPECT_GT(net.node(partitioned).term(), term);
  net.Heal();
  for (int t = 0; t < 30 && net.node(leader).term() == term; ++t) {
    net.TickAll();
    net.Stabilize();
  }
  EXPECT_GT(net.node(leader).term(), term);
}

TEST(RaftNodeTest, CheckQuorum_IsolatedLeaderStepsDown) {
  Network net(3);
  const int64_t leader = net.TickUntilLeader();
  ASSERT_NE(leader, 0);
  net.Isolate(leader);
  // Checked once per election_ticks_min (10) ticks: the leader heard from its followers
  // in the first window, not in the second.
  for (int t = 0; t < 20; ++t) {
    net.TickAll();
    net.Stabilize();
  }
  EXPECT_EQ(net.node(leader).role(), Role::kFollower);
  EXPECT_EQ(net.node(leader).leader_id(), 0);
  // The others elect a new leader among themselves.
  int64_t new_leader = 0;
  for (int t = 0; t < 100 && new_leader == 0; ++t) {
    net.TickAll();
    net.Stabilize();
    new_leader = net.Leader();
  }
  EXPECT_NE(new_leader, 0);
  EXPECT_NE(new_leader, leader);
}

TEST(RaftNodeTest, CheckQuorum_FollowerInLeaseIgnoresVoteRequests) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  const uint64_t term = net.node(leader).term();
  RequestVoteRequest req;
  req.set_term(term + 1);
  req.set_candidate_id(3);
  req.set_last_log_index(100);
  req.set_last_log_term(term);
  ASSERT_TRUE(net.node(2).Step(RaftMessage::Make(3, 2, req)).ok());
  EXPECT_EQ(net.node(2).term(), term);
  EXPECT_FALSE(net.node(2).HasReady());
}

// ---------------------------------------------------------------------------
// Log replication (Raft 5.3)

TEST(RaftNodeTest, LogReplication_NewLeaderAppendsNoopAtStartOfTerm) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  const uint64_t term = net.node(leader).term();
  for (int64_t id : net.ids()) {
    ASSERT_EQ(net.storage(id).applied.size(), 1u) << "node " << id;
    const Entry& noop = net.storage(id).applied[0];
    EXPECT_EQ(noop.type(), Entry::NOOP);
    EXPECT_EQ(noop.term(), term);
    EXPECT_EQ(net.node(id).commit_index(), 1u);
  }
}

TEST(RaftNodeTest, LogReplication_ProposalsAreCommittedAndAppliedEverywhere) {
  Network net(5);
  const int64_t leader = ElectViaCampaign(net, 1);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(net.node(leader).Propose("v" + std::to_string(i)).ok());
    net.Stabilize();
  }
  for (int64_t id : net.ids()) {
    EXPECT_EQ(net.node(id).commit_index(), 21u);
    EXPECT_EQ(net.node(id).applied_index(), 21u);
    EXPECT_EQ(net.storage(id).applied.back().data(), "v19");
  }
  EXPECT_TRUE(absl::IsFailedPrecondition(net.node(2).Propose("x").status()));
  EXPECT_EQ(net.node(2).leader_id(), leader);
}

TEST(RaftNodeTest, LogReplication_ProposalsBetweenReadiesShareOneAppend) {
  Network net(3, [](RaftNodeOptions& o) { o.max_entries_per_append = 4; });
  const int64_t leader = ElectViaCampaign(net, 1);
  net.ClearSent();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(net.node(leader).Propose("p").ok());
  net.ProcessReady(leader);
  for (int64_t follower : {2, 3}) {
    auto appends = EntryAppends(net.sent(), follower);
    ASSERT_EQ(appends.size(), 3u);  // 4 + 4 + 2
    EXPECT_EQ(appends[0].entries_size(), 4);
    EXPECT_EQ(appends[1].entries_size(), 4);
    EXPECT_EQ(appends[2].entries_size(), 2);
  }
  net.Stabilize();
  EXPECT_EQ(net.node(2).commit_index(), 11u);
}

TEST(RaftNodeTest, LogReplication_AppendRespectsByteLimit) {
  Network net(3, [](RaftNodeOptions& o) { o.max_bytes_per_append = 250; });
  const int64_t leader = ElectViaCampaign(net, 1);
  net.ClearSent();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(net.node(leader).Propose(std::string(100, 'x')).ok());
  net.ProcessReady(leader);
  auto appends = EntryAppends(net.sent(), 2);
  ASSERT_EQ(appends.size(), 2u);
  EXPECT_EQ(appends[0].entries_size(), 2);
  EXPECT_EQ(appends[1].entries_size(), 2);
}

TEST(RaftNodeTest, FlowControl_InflightWindowCapsUnacknowledgedAppends) {
  Network net(3, [](RaftNodeOptions& o) { o.max_inflight_appends = 3; });
  const int64_t leader = ElectViaCampaign(net, 1);
  ASSERT_EQ(net.node(leader).progress(2)->state(), ProgressState::kReplicate);
  net.ClearSent();
  net.queue().clear();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(net.node(leader).Propose("p" + std::to_string(i)).ok());
    net.ProcessReady(leader);  // nothing is delivered: no acknowledgement comes back
  }
  for (int64_t follower : {2, 3}) {
    EXPECT_EQ(EntryAppends(net.sent(), follower).size(), 3u);
    EXPECT_EQ(net.node(leader).progress(follower)->inflights().count(), 3);
    EXPECT_TRUE(net.node(leader).progress(follower)->IsPaused());
  }
  // Acknowledgements open the window again and the rest follows.
  net.Stabilize();
  for (int64_t id : net.ids()) EXPECT_EQ(net.node(id).commit_index(), 11u);
}

TEST(RaftNodeTest, LogReplication_LostAppendsAreResentAfterHeartbeats) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  ASSERT_TRUE(net.node(leader).Propose("lost").ok());
  net.ProcessReady(leader);
  net.queue().clear();  // the appends are lost
  for (int t = 0; t < 5; ++t) {
    net.node(leader).Tick();
    net.Stabilize();
  }
  for (int64_t id : net.ids()) EXPECT_EQ(net.node(id).commit_index(), 2u);
}

TEST(RaftNodeTest, LogMatching_ConflictingFollowerIsRepairedWithFastBackoff) {
  // Raft Figure 7: the leader's log and a follower that holds extra entries of terms the
  // leader never saw.
  const std::vector<uint64_t> leader_log = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  std::map<int64_t, RaftRestoredState> restored = {
      {1, LogWithTerms(leader_log, 7)},
      {2, LogWithTerms(leader_log, 7)},
      {3, LogWithTerms({1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}, 7)},
  };
  Network net(3, nullptr, restored);
  ElectViaCampaign(net, 1);
  net.Stabilize();

  int rejections = 0;
  for (const AppendEntriesResponse& r : PayloadsOf<AppendEntriesResponse>(net.sent(), 3, 1)) {
    if (!r.success()) ++rejections;
  }
  // One rejection per conflicting term rather than one per entry (7 without hints).
  EXPECT_LE(rejections, 2);
  EXPECT_EQ(net.node(3).last_index(), 11u);
  for (uint64_t i = 1; i <= 11; ++i) {
    EXPECT_EQ(net.node(3).TermAt(i), net.node(1).TermAt(i)) << "index " << i;
  }
  // The durable log was truncated as well.
  EXPECT_EQ(net.storage(3).log.size(), 11u);
  EXPECT_EQ(net.storage(3).log.at(4).term(), 4u);
  EXPECT_EQ(net.node(3).commit_index(), 11u);
}

TEST(RaftNodeTest, LogMatching_FollowerRejectsAppendWithMismatchedPrevTermAndHints) {
  RaftRestoredState state = LogWithTerms({1, 2, 2, 2}, 2);
  RaftNode node(ThreeNodeOptions(2), state);
  AppendEntriesRequest req;
  req.set_term(3);
  req.set_leader_id(1);
  req.set_prev_log_index(4);
  req.set_prev_log_term(3);
  req.set_sequence(9);
  ASSERT_TRUE(node.Step(RaftMessage::Make(1, 2, req)).ok());
  Ready rd = node.GetReady();
  auto responses = PayloadsOf<AppendEntriesResponse>(rd.messages);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_FALSE(responses[0].success());
  EXPECT_EQ(responses[0].conflict_term(), 2u);
  EXPECT_EQ(responses[0].conflict_index(), 2u);
  EXPECT_EQ(responses[0].sequence(), 9u);
  EXPECT_EQ(node.leader_id(), 1);
}

// A message whose term is near 2^64 would make the next election wrap the term to 0.
TEST(RaftNodeTest, Safety_TermsThatWouldWrapAreRefused) {
  RaftNode node(ThreeNodeOptions(2), LogWithTerms({1, 1}, 1));
  AppendEntriesRequest req;
  req.set_term(~uint64_t{0});
  req.set_leader_id(1);
  req.set_prev_log_index(2);
  req.set_prev_log_term(1);
  absl::Status stepped = node.Step(RaftMessage::Make(1, 2, req));
  EXPECT_TRUE(absl::IsInvalidArgument(stepped)) << stepped;
  EXPECT_EQ(node.term(), 1u);
  EXPECT_EQ(node.leader_id(), 0);
  RequestVoteRequest vote;
  vote.set_term(kMaxTerm + 1);
  vote.set_candidate_id(3);
  vote.set_last_log_index(9);
  vote.set_last_log_term(9);
  EXPECT_FALSE(node.Step(RaftMessage::Make(3, 2, vote)).ok());
  EXPECT_EQ(node.term(), 1u);
  // The largest term is still taken up.
  req.set_term(kMaxTerm);
  ASSERT_TRUE(node.Step(RaftMessage::Make(1, 2, req)).ok());
  EXPECT_EQ(node.term(), kMaxTerm);
  EXPECT_EQ(node.leader_id(), 1);
}

TEST(RaftNodeTest, LogMatching_FollowerIgnoresAppendWhoseTermsNoLeaderLogCouldHold) {
  // Found by raft_message_fuzzer: such entries reached the durable log, which refuses them
  // (ConsensusManagerRaft stops the replica), or sat above every later leader's term.
  RaftNode node(ThreeNodeOptions(2));
  AppendEntriesRequest decreasing;
  decreasing.set_term(2);
  decreasing.set_leader_id(1);
  *decreasing.add_entries() = MakeEntry(1, 2, "a");
  *decreasing.add_entries() = MakeEntry(2, 1, "b");
  AppendEntriesRequest future = decreasing;
  future.clear_entries();
  *future.add_entries() = MakeEntry(1, 3, "a");
  AppendEntriesRequest below_prev = decreasing;
  below_prev.clear_entries();
  below_prev.set_prev_log_term(2);
  *below_prev.add_entries() = MakeEntry(1, 1, "a");
  for (const AppendEntriesRequest& req : {decreasing, future, below_prev}) {
    ASSERT_TRUE(node.Step(RaftMessage::Make(1, 2, req)).ok());
    EXPECT_EQ(node.last_index(), 0u);
  }
  EXPECT_TRUE(node.GetReady().entries.empty());

  AppendEntriesRequest valid = decreasing;
  valid.clear_entries();
  *valid.add_entries() = MakeEntry(1, 1, "a");
  *valid.add_entries() = MakeEntry(2, 2, "b");
  ASSERT_TRUE(node.Step(RaftMessage::Make(1, 2, valid)).ok());
  EXPECT_EQ(node.last_index(), 2u);
  EXPECT_EQ(node.GetReady().entries.size(), 2u);
}

TEST(RaftNodeTest, LeaderCompleteness_LeaderCommitsOnlyEntriesOfItsCurrentTerm) {
  // Raft Figure 8: an entry of an earlier term replicated on a majority is not committed
  // by counting; it commits only together with an entry of the leader's term.
  RaftNodeOptions options = ThreeNodeOptions(1);
  options.pre_vote = false;
  RaftNode node(options, LogWithTerms({1, 2}, 2));
  ASSERT_TRUE(node.Campaign().ok());
  ASSERT_TRUE(node.Step(VoteResponse(2, 1, 3, true, false)).ok());
  ASSERT_EQ(node.role(), Role::kLeader);
  ASSERT_EQ(node.term(), 3u);
  ASSERT_EQ(node.last_index(), 3u);  // the NOOP of term 3
  node.Advance(node.GetReady());

  AppendEntriesResponse ack;
  ack.set_term(3);
  ack.set_follower_id(2);
  ack.set_success(true);
  ack.set_match_index(2);
  ASSERT_TRUE(node.Step(RaftMessage::Make(2, 1, ack)).ok());
  EXPECT_EQ(node.commit_index(), 0u) << "index 2 (term 2) is on a majority but not of term 3";

  ack.set_match_index(3);
  ASSERT_TRUE(node.Step(RaftMessage::Make(2, 1, ack)).ok());
  EXPECT_EQ(node.commit_index(), 3u);
  Ready rd = node.GetReady();
  ASSERT_EQ(rd.committed_entries.size(), 3u);
  EXPECT_EQ(rd.committed_entries[2].type(), Entry::NOOP);
}

TEST(RaftNodeTest, LogReplication_HeartbeatCarriesCommitBoundedByFollowerMatch) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  net.Isolate(3);
  ASSERT_TRUE(net.node(leader).Propose("a").ok());
  net.Stabilize();
  ASSERT_EQ(net.node(leader).commit_index(), 2u);
  net.ClearSent();
  net.node(leader).Tick();
  net.ProcessReady(leader);
  auto to2 = PayloadsOf<AppendEntriesRequest>(net.sent(), leader, 2);
  auto to3 = PayloadsOf<AppendEntriesRequest>(net.sent(), leader, 3);
  ASSERT_FALSE(to2.empty());
  ASSERT_FALSE(to3.empty());
  EXPECT_EQ(to2.back().leader_commit(), 2u);
  EXPECT_EQ(to3.back().leader_commit(), 1u);  // node 3 only matches up to 1
}

TEST(RaftNodeTest, Proposal_RefusedWhenTooManyBytesAreUncommitted) {
  Network net(3, [](RaftNodeOptions& o) { o.max_uncommitted_bytes = 100; });
  const int64_t leader = ElectViaCampaign(net, 1);
  net.Isolate(2);
  net.Isolate(3);
  ASSERT_TRUE(net.node(leader).Propose(std::string(60, 'a')).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(net.node(leader).Propose(std::string(60, 'b')).status()));
  net.Heal();
  net.node(leader).Tick();
  net.Stabilize();
  for (int t = 0; t < 5; ++t) {
    net.node(leader).Tick();
    net.Stabilize();
  }
  EXPECT_EQ(net.node(leader).commit_index(), 2u);
  EXPECT_TRUE(net.node(leader).Propose(std::string(60, 'b')).ok());
}

TEST(RaftNodeTest, Proposal_OverwrittenByNewLeaderIsReportedDropped) {
  Network net(3);
  ElectViaCampaign(net, 1);
  net.Isolate(1);
  absl::StatusOr<uint64_t> index = net.node(1).Propose("doomed");
  ASSERT_TRUE(index.ok());
  net.ProcessReady(1);
  // 2 and 3 elect a new leader, whose NOOP takes that index.
  const int64_t new_leader = net.TickUntilLeader();
  ASSERT_TRUE(new_leader == 2 || new_leader == 3);
  ASSERT_TRUE(net.node(new_leader).Propose("winner").ok());
  net.Stabilize();
  net.Heal();
  for (int t = 0; t < 30 && net.node(1).leader_id() != new_leader; ++t) {
    net.TickAll();
    net.Stabilize();
  }
  ASSERT_EQ(net.node(1).leader_id(), new_leader);
  EXPECT_EQ(net.storage(1).applied.back().data(), "winner");
  ASSERT_EQ(net.storage(1).dropped_proposals.size(), 1u);
  EXPECT_EQ(net.storage(1).dropped_proposals[0].first, *index);
}

// ---------------------------------------------------------------------------
// ReadIndex (Raft thesis 6.4)

TEST(RaftNodeTest, ReadIndex_LeaderConfirmsLeadershipWithHeartbeatRound) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Stabilize();
  const uint64_t commit = net.node(leader).commit_index();

  net.ClearSent();
  ASSERT_TRUE(net.node(leader).ReadIndex(42).ok());
  net.ProcessReady(leader);
  EXPECT_TRUE(net.storage(leader).read_states.empty()) << "served before a quorum answered";
  auto heartbeats = PayloadsOf<AppendEntriesRequest>(net.sent(), leader);
  ASSERT_EQ(heartbeats.size(), 2u);
  EXPECT_NE(heartbeats[0].read_context(), 0u);

  net.Stabilize();
  ASSERT_EQ(net.storage(leader).read_states.size(), 1u);
  EXPECT_EQ(net.storage(leader).read_states[0].context, 42u);
  EXPECT_EQ(net.storage(leader).read_states[0].index, commit);
}

TEST(RaftNodeTest, ReadIndex_LeaderWithoutQuorumNeverServesTheRead) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  net.Isolate(2);
  net.Isolate(3);
  ASSERT_TRUE(net.node(leader).ReadIndex(5).ok());
  net.Stabilize();
  EXPECT_TRUE(net.storage(leader).read_states.empty());
  // It steps down at the next CheckQuorum and reports the read as dropped.
  for (int t = 0; t < 20; ++t) net.node(leader).Tick();
  net.ProcessReady(leader);
  EXPECT_EQ(net.node(leader).role(), Role::kFollower);
  EXPECT_EQ(net.storage(leader).dropped_reads, std::vector<uint64_t>{5});
}

TEST(RaftNodeTest, ReadIndex_FollowerForwardsToLeader) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Stabilize();
  ASSERT_TRUE(net.node(2).ReadIndex(7).ok());
  net.Stabilize();
  ASSERT_EQ(net.storage(2).read_states.size(), 1u);
  EXPECT_EQ(net.storage(2).read_states[0].context, 7u);
  EXPECT_EQ(net.storage(2).read_states[0].index, net.node(leader).commit_index());
  EXPECT_TRUE(net.storage(leader).read_states.empty());

  RaftNode lonely(ThreeNodeOptions(1));
  EXPECT_TRUE(absl::IsFailedPrecondition(lonely.ReadIndex(1)));
}

TEST(RaftNodeTest, ReadIndex_NewLeaderDefersReadUntilItCommitsAnEntryOfItsTerm) {
  Network net(3);
  ASSERT_TRUE(net.node(1).Campaign().ok());
  // Run the election only as far as node 1 becoming leader.
  for (int round = 0; round < 10 && net.node(1).role() != Role::kLeader; ++round) {
    net.ProcessAllReady();
    net.DeliverAll();
  }
  ASSERT_EQ(net.node(1).role(), Role::kLeader);
  ASSERT_EQ(net.node(1).commit_index(), 0u);
  net.ClearSent();
  ASSERT_TRUE(net.node(1).ReadIndex(11).ok());
  net.ProcessReady(1);
  for (const AppendEntriesRequest& a : PayloadsOf<AppendEntriesRequest>(net.sent(), 1)) {
    EXPECT_EQ(a.read_context(), 0u) << "read round started before a current-term commit";
  }
  net.Stabilize();
  ASSERT_EQ(net.storage(1).read_states.size(), 1u);
  EXPECT_EQ(net.storage(1).read_states[0].index, 1u);  // the NOOP
}

// ---------------------------------------------------------------------------
// Leadership transfer (Raft thesis 3.10)

TEST(RaftNodeTest, LeadershipTransfer_ToUpToDateFollower) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  const uint64_t term = net.node(leader).term();
  ASSERT_TRUE(net.node(leader).TransferLeadership(2).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(net.node(leader).Propose("x").status()));
  net.Stabilize();
  EXPECT_EQ(net.node(2).role(), Role::kLeader);
  EXPECT_EQ(net.node(2).term(), term + 1);
  EXPECT_EQ(net.node(1).role(), Role::kFollower);
  EXPECT_EQ(net.node(1).leader_id(), 2);
  EXPECT_TRUE(net.node(2).Propose("after").ok());
}

TEST(RaftNodeTest, LeadershipTransfer_ToLaggingFollowerCatchesItUpFirst) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  net.Isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.node(leader).Propose("v").ok());
  net.Stabilize();
  ASSERT_LT(net.node(3).last_index(), net.node(leader).last_index());
  net.Heal();

  net.ClearSent();
  ASSERT_TRUE(net.node(leader).TransferLeadership(3).ok());
  EXPECT_EQ(net.node(leader).lead_transferee(), 3);
  net.ProcessReady(leader);
  EXPECT_TRUE(PayloadsOf<TimeoutNow>(net.sent()).empty()) << "target not caught up yet";
  for (int t = 0; t < 5 && net.node(3).role() != Role::kLeader; ++t) {
    net.node(leader).Tick();
    net.Stabilize();
  }
  EXPECT_EQ(net.node(3).role(), Role::kLeader);
  EXPECT_EQ(PayloadsOf<TimeoutNow>(net.sent()).size(), 1u);
  EXPECT_GE(net.node(3).commit_index(), 6u);
}

TEST(RaftNodeTest, LeadershipTransfer_AbortedAfterAnElectionTimeout) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  net.Isolate(3);
  ASSERT_TRUE(net.node(leader).TransferLeadership(3).ok());
  for (int t = 0; t < 10; ++t) {
    net.node(leader).Tick();
    net.node(2).Tick();
    net.Stabilize();
  }
  EXPECT_EQ(net.node(leader).role(), Role::kLeader);
  EXPECT_EQ(net.node(leader).lead_transferee(), 0);
  EXPECT_TRUE(net.node(leader).Propose("ok again").ok());
}

TEST(RaftNodeTest, LeadershipTransfer_VotersIgnoreTheirLeaseForTheTarget) {
  Network net(3);
  ElectViaCampaign(net, 1);
  // Node 2 just heard from the leader, yet grants node 3's transfer election.
  ASSERT_TRUE(net.node(1).TransferLeadership(3).ok());
  net.Stabilize();
  EXPECT_EQ(net.node(3).role(), Role::kLeader);
}

// ---------------------------------------------------------------------------
// Restart and roles

TEST(RaftNodeTest, Restart_RestoredStateKeepsTermVoteAndLog) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(net.node(leader).Propose("v").ok());
  net.Stabilize();
  const uint64_t term = net.node(2).term();
  const int64_t vote = net.node(2).voted_for();
  const uint64_t last = net.node(2).last_index();
  const uint64_t commit = net.node(2).commit_index();
  ASSERT_EQ(vote, 1);

  net.Restart(2);
  EXPECT_EQ(net.node(2).term(), term);
  EXPECT_EQ(net.node(2).voted_for(), vote);
  EXPECT_EQ(net.node(2).last_index(), last);
  EXPECT_EQ(net.node(2).commit_index(), commit);
  EXPECT_EQ(net.node(2).role(), Role::kFollower);

  // It keeps serving: no second vote in the old term, and it catches up on new entries.
  ASSERT_TRUE(net.node(leader).Propose("after restart").ok());
  net.Stabilize();
  EXPECT_EQ(net.node(2).commit_index(), commit + 1);
  EXPECT_EQ(net.storage(2).applied.back().data(), "after restart");
}

TEST(RaftNodeTest, Roles_FollowerPreCandidateCandidateLeaderFollower) {
  RaftNodeOptions options = ThreeNodeOptions(1);
  RaftNode node(options);
  EXPECT_EQ(node.role(), Role::kFollower);
  for (int t = 0; t < options.election_ticks_max && node.role() == Role::kFollower; ++t) {
    node.Tick();
  }
  ASSERT_EQ(node.role(), Role::kPreCandidate);
  EXPECT_EQ(node.term(), 0u) << "a pre-candidate keeps its term";
  Ready rd = node.GetReady();
  auto requests = PayloadsOf<RequestVoteRequest>(rd.messages);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(requests[0].pre_vote());
  EXPECT_EQ(requests[0].term(), 1u);
  node.Advance(rd);

  ASSERT_TRUE(node.Step(VoteResponse(2, 1, 1, true, true)).ok());
  ASSERT_EQ(node.role(), Role::kCandidate);
  EXPECT_EQ(node.term(), 1u);
  EXPECT_EQ(node.voted_for(), 1);

  ASSERT_TRUE(node.Step(VoteResponse(3, 1, 1, true, false)).ok());
  ASSERT_EQ(node.role(), Role::kLeader);
  EXPECT_EQ(node.leader_id(), 1);

  AppendEntriesRequest append;
  append.set_term(2);
  append.set_leader_id(3);
  ASSERT_TRUE(node.Step(RaftMessage::Make(3, 1, append)).ok());
  EXPECT_EQ(node.role(), Role::kFollower);
  EXPECT_EQ(node.term(), 2u);
  EXPECT_EQ(node.leader_id(), 3);
}

TEST(RaftNodeTest, Roles_CandidateLosingTheElectionBecomesFollower) {
  RaftNodeOptions options = ThreeNodeOptions(1);
  options.pre_vote = false;
  RaftNode node(options);
  ASSERT_TRUE(node.Campaign().ok());
  ASSERT_EQ(node.role(), Role::kCandidate);
  ASSERT_TRUE(node.Step(VoteResponse(2, 1, 1, false, false)).ok());
  EXPECT_EQ(node.role(), Role::kCandidate);
  ASSERT_TRUE(node.Step(VoteResponse(3, 1, 1, false, false)).ok());
  EXPECT_EQ(node.role(), Role::kFollower);
}

TEST(RaftNodeTest, Roles_SingleNodeClusterElectsItselfAndCommitsAlone) {
  RaftNodeOptions options;
  options.id = 1;
  options.voters = {1};
  RaftNode node(options);
  for (int t = 0; t < 20 && node.role() != Role::kLeader; ++t) node.Tick();
  ASSERT_EQ(node.role(), Role::kLeader);
  absl::StatusOr<uint64_t> index = node.Propose("solo");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(node.commit_index(), *index);
  ASSERT_TRUE(node.ReadIndex(3).ok());
  Ready rd = node.GetReady();
  ASSERT_EQ(rd.read_states.size(), 1u);
  EXPECT_EQ(rd.read_states[0].index, *index);
}

TEST(RaftNodeTest, Step_StaleLeaderLearnsTheNewTermEvenWithoutPreVoteAndCheckQuorum) {
  RaftNodeOptions options = ThreeNodeOptions(1);
  options.pre_vote = false;
  options.check_quorum = false;
  RaftRestoredState restored;
  restored.hard_state.set_current_term(9);
  RaftNode node(options, restored);
  AppendEntriesRequest append;
  append.set_term(4);
  ASSERT_TRUE(node.Step(RaftMessage::Make(2, 1, append)).ok());
  Ready rd = node.GetReady();
  const std::vector<AppendEntriesResponse> answers =
      PayloadsOf<AppendEntriesResponse>(rd.messages, 1, 2);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].term(), 9u);
  EXPECT_FALSE(answers[0].success());
}

TEST(RaftNodeTest, Step_MissingSenderAndMismatchedTypeAreRejectedHarmlessly) {
  RaftNode node(ThreeNodeOptions(1));
  AppendEntriesRequest append;
  append.set_term(5);
  EXPECT_TRUE(absl::IsInvalidArgument(node.Step(RaftMessage::Make(0, 1, append))));
  EXPECT_TRUE(absl::IsInvalidArgument(node.Step(RaftMessage::Make(1, 1, append))));
  RaftMessage wrong = RaftMessage::Make(2, 1, append);
  wrong.user_type = RAFT_REQUEST_VOTE;
  EXPECT_TRUE(absl::IsInvalidArgument(node.Step(wrong)));
  EXPECT_EQ(node.term(), 0u);
  EXPECT_FALSE(RaftMessage::Parse(2, 1, 99, "").ok());
  EXPECT_FALSE(RaftMessage::Parse(2, 1, RAFT_APPEND_ENTRIES, "\xff\xff").ok());
}

TEST(RaftNodeTest, Compaction_FollowerBehindTheCompactedLogNeedsASnapshot) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  net.Isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.node(leader).Propose("v").ok());
  net.Stabilize();
  ASSERT_EQ(net.node(leader).applied_index(), 6u);
  EXPECT_TRUE(absl::IsFailedPrecondition(net.node(leader).CompactTo(7)));
  ASSERT_TRUE(net.node(leader).CompactTo(5).ok());
  EXPECT_EQ(net.node(leader).first_index(), 6u);
  net.Heal();
  for (int t = 0; t < 5; ++t) {
    net.node(leader).Tick();
    net.Stabilize();
  }
  EXPECT_EQ(net.node(leader).FollowersNeedingSnapshot(), std::vector<int64_t>{3});
  EXPECT_EQ(net.node(leader).progress(3)->state(), ProgressState::kSnapshot);
}

SnapshotMetadata SnapshotAt(uint64_t index, uint64_t term) {
  SnapshotMetadata metadata;
  metadata.set_last_included_index(index);
  metadata.set_last_included_term(term);
  return metadata;
}

// Leader 1 commits 5 proposals (indices 2..6) while node 3 is isolated, compacts to 5 and
// finds, once the network heals, that node 3 needs a snapshot.
int64_t LeaderWithFollowerThreeNeedingASnapshot(Network& net) {
  const int64_t leader = ElectViaCampaign(net, 1);
  net.Isolate(3);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(net.node(leader).Propose("v" + std::to_string(i)).ok());
  net.Stabilize();
  EXPECT_EQ(net.node(leader).applied_index(), 6u);
  EXPECT_TRUE(net.node(leader).CompactTo(5).ok());
  net.Heal();
  for (int t = 0; t < 5; ++t) {
    net.node(leader).Tick();
    net.Stabilize();
  }
  EXPECT_EQ(net.node(leader).FollowersNeedingSnapshot(), std::vector<int64_t>{3});
  EXPECT_EQ(net.node(leader).progress(3)->state(), ProgressState::kSnapshot);
  EXPECT_EQ(net.node(leader).progress(3)->pending_snapshot(), 5u);
  EXPECT_LT(net.node(3).commit_index(), 5u);
  return leader;
}

TEST(RaftNodeTest, Snapshot_FollowerRestoredFromASnapshotRejoinsReplication) {
  Network net(3);
  const int64_t leader = LeaderWithFollowerThreeNeedingASnapshot(net);
  const uint64_t term = *net.node(leader).TermAt(5);

  ASSERT_TRUE(net.InstallSnapshot(3, SnapshotAt(5, term)).ok());
  RaftNode& follower = net.node(3);
  EXPECT_EQ(follower.commit_index(), 5u);
  EXPECT_EQ(follower.applied_index(), 5u);
  EXPECT_EQ(follower.first_index(), 6u);
  EXPECT_EQ(follower.last_index(), 5u) << "the log did not hold index 5: it restarts after it";
  EXPECT_EQ(follower.TermAt(5), term);

  net.node(leader).ReportSnapshot(3, true);
  const Progress* pr = net.node(leader).progress(3);
  EXPECT_EQ(pr->state(), ProgressState::kProbe);
  EXPECT_EQ(pr->next(), 6u);
  EXPECT_TRUE(net.node(leader).FollowersNeedingSnapshot().empty());
  // The leader waits for the follower's own acknowledgement before appending.
  net.ClearSent();
  net.ProcessReady(leader);
  EXPECT_TRUE(PayloadsOf<AppendEntriesRequest>(net.sent(), leader, 3).empty());

  net.ProcessReady(3);
  std::vector<AppendEntriesResponse> acks = PayloadsOf<AppendEntriesResponse>(net.sent(), 3);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].success());
  EXPECT_EQ(acks[0].match_index(), 5u);
  ASSERT_EQ(net.storage(3).snapshots.size(), 1u);
  EXPECT_EQ(net.storage(3).snapshots[0].last_included_index(), 5u);
  EXPECT_EQ(net.storage(3).hard_state.commit_index(), 5u);
  EXPECT_EQ(net.storage(3).hard_state.last_applied(), 5u);
  EXPECT_TRUE(net.storage(3).log.empty());

  net.Stabilize();
  EXPECT_EQ(pr->state(), ProgressState::kReplicate);
  EXPECT_EQ(pr->match(), net.node(leader).last_index());
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(net.node(leader).Propose("after" + std::to_string(i)).ok());
  net.Stabilize();

  EXPECT_EQ(follower.last_index(), net.node(leader).last_index());
  EXPECT_EQ(follower.last_term(), net.node(leader).last_term());
  EXPECT_EQ(follower.commit_index(), net.node(leader).commit_index());
  EXPECT_EQ(follower.applied_index(), net.node(leader).applied_index());
  EXPECT_EQ(follower.applied_index(), 9u);
  // The harness compares every apply with the other nodes'; here the whole sequence.
  const std::vector<Entry>& mine = net.storage(3).applied;
  const std::vector<Entry>& theirs = net.storage(leader).applied;
  ASSERT_EQ(mine.size(), theirs.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(mine[i].index(), theirs[i].index());
    EXPECT_EQ(mine[i].data(), theirs[i].data());
  }
  EXPECT_EQ(net.storage(3).log.begin()->first, 6u);
  EXPECT_EQ(net.storage(3).log.rbegin()->first, 9u);
  EXPECT_EQ(net.storage(3).snapshots.size(), 1u) << "the snapshot is handed out once";

  // What the follower persisted brings it back to the same place.
  net.Restart(3);
  EXPECT_EQ(net.node(3).first_index(), 6u);
  EXPECT_EQ(net.node(3).last_index(), 9u);
  EXPECT_EQ(net.node(3).TermAt(5), term);
}

TEST(RaftNodeTest, Snapshot_FailedTransferIsRetriedWithTheNewestSnapshot) {
  Network net(3);
  const int64_t leader = LeaderWithFollowerThreeNeedingASnapshot(net);
  const uint64_t match = net.node(leader).progress(3)->match();

  net.node(leader).ReportSnapshot(3, false);
  const Progress* pr = net.node(leader).progress(3);
  EXPECT_EQ(pr->state(), ProgressState::kProbe);
  EXPECT_EQ(pr->pending_snapshot(), 0u);
  EXPECT_EQ(pr->next(), match + 1) << "the snapshot was not installed";
  EXPECT_TRUE(pr->IsPaused()) << "the retry waits for a heartbeat";

  // Meanwhile the leader commits more and compacts further.
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(net.node(leader).Propose("w").ok());
  net.Stabilize();
  ASSERT_TRUE(net.node(leader).CompactTo(net.node(leader).applied_index()).ok());
  const uint64_t newest = net.node(leader).first_index() - 1;
  ASSERT_EQ(newest, 8u);
  net.node(leader).Tick();
  net.Stabilize();
  EXPECT_EQ(pr->state(), ProgressState::kSnapshot);
  EXPECT_EQ(pr->pending_snapshot(), newest);
  EXPECT_EQ(net.node(leader).FollowersNeedingSnapshot(), std::vector<int64_t>{3});
  EXPECT_LT(net.node(3).commit_index(), 5u) << "nothing reached the follower meanwhile";

  // This time the transfer works.
  ASSERT_TRUE(net.InstallSnapshot(3, SnapshotAt(newest, *net.node(leader).TermAt(newest))).ok());
  net.Stabilize();
  EXPECT_NE(pr->state(), ProgressState::kSnapshot) << "the follower's acknowledgement ended it";
  EXPECT_EQ(pr->match(), newest);
  const ProgressState state = pr->state();
  const uint64_t next = pr->next();
  net.node(leader).ReportSnapshot(3, true);  // later than the acknowledgement: no-op
  EXPECT_EQ(pr->state(), state);
  EXPECT_EQ(pr->next(), next);
  ASSERT_TRUE(net.node(leader).Propose("z").ok());
  net.Stabilize();
  EXPECT_EQ(pr->state(), ProgressState::kReplicate);
  EXPECT_EQ(net.storage(3).applied.back().data(), "z");
  EXPECT_EQ(net.node(3).commit_index(), net.node(leader).commit_index());
  EXPECT_EQ(net.node(3).last_index(), net.node(leader).last_index());
}

TEST(RaftNodeTest, Snapshot_ReportSnapshotIgnoresFollowersWithoutAPendingSnapshot) {
  Network net(3);
  const int64_t leader = ElectViaCampaign(net, 1);
  ASSERT_TRUE(net.node(leader).Propose("x").ok());
  net.Stabilize();
  const Progress* pr = net.node(leader).progress(2);
  ASSERT_EQ(pr->state(), ProgressState::kReplicate);
  const uint64_t next = pr->next();
  net.node(leader).ReportSnapshot(2, false);
  EXPECT_EQ(pr->state(), ProgressState::kReplicate);
  EXPECT_EQ(pr->next(), next);
  EXPECT_FALSE(pr->IsPaused());
  net.node(leader).ReportSnapshot(9, true);  // unknown
  net.node(2).ReportSnapshot(3, true);       // not the leader
  EXPECT_EQ(net.node(2).progress(3), nullptr);
}

// Node 2 of {1, 2, 3} in term 2 following leader 1, with entries of terms 1 1 1 2 2 at
// indices 1..5 of which 2 are committed; its Ready is drained.
RaftNode FollowerWithFiveEntries() {
  RaftRestoredState restored = LogWithTerms({1, 1, 1, 2, 2}, 2);
  restored.hard_state.set_commit_index(2);
  restored.hard_state.set_last_applied(2);
  RaftNode node(ThreeNodeOptions(2), restored);
  AppendEntriesRequest heartbeat;
  heartbeat.set_term(2);
  heartbeat.set_leader_id(1);
  heartbeat.set_leader_commit(2);
  EXPECT_TRUE(node.Step(RaftMessage::Make(1, 2, heartbeat)).ok());
  EXPECT_EQ(node.leader_id(), 1);
  while (node.HasReady()) node.Advance(node.GetReady());
  return node;
}

TEST(RaftNodeTest, Snapshot_RestoreKeepsTheEntriesAfterAnIndexAndTermTheLogHolds) {
  RaftNode node = FollowerWithFiveEntries();
  ASSERT_TRUE(node.RestoreSnapshot(SnapshotAt(4, 2)).ok());
  EXPECT_EQ(node.first_index(), 5u);
  EXPECT_EQ(node.last_index(), 5u);
  EXPECT_EQ(node.TermAt(4), 2u);
  EXPECT_EQ(node.TermAt(5), 2u);
  EXPECT_EQ(node.commit_index(), 4u);
  EXPECT_EQ(node.applied_index(), 4u);

  ASSERT_TRUE(node.HasReady());
  Ready rd = node.GetReady();
  ASSERT_TRUE(rd.snapshot.has_value());
  EXPECT_EQ(rd.snapshot->last_included_index(), 4u);
  EXPECT_EQ(rd.snapshot->last_included_term(), 2u);
  EXPECT_EQ(rd.truncate_from, 0u) << "entry 5 stays durable";
  EXPECT_TRUE(rd.entries.empty());
  EXPECT_TRUE(rd.committed_entries.empty()) << "the snapshot holds 3 and 4";
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->commit_index(), 4u);
  EXPECT_EQ(rd.hard_state->last_applied(), 4u);
  EXPECT_EQ(rd.hard_state->current_term(), 2u);
  std::vector<AppendEntriesResponse> acks = PayloadsOf<AppendEntriesResponse>(rd.messages, 2, 1);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].success());
  EXPECT_EQ(acks[0].match_index(), 4u);
  EXPECT_EQ(acks[0].term(), 2u);
  node.Advance(rd);
  EXPECT_FALSE(node.HasReady()) << "the snapshot is handed out once";
  EXPECT_FALSE(node.GetReady().snapshot.has_value());

  // Entry 5 was kept: committing it applies it.
  AppendEntriesRequest append;
  append.set_term(2);
  append.set_leader_id(1);
  append.set_prev_log_index(5);
  append.set_prev_log_term(2);
  append.set_leader_commit(5);
  append.set_sequence(1);
  ASSERT_TRUE(node.Step(RaftMessage::Make(1, 2, append)).ok());
  rd = node.GetReady();
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(rd.committed_entries[0].index(), 5u);
  EXPECT_EQ(rd.committed_entries[0].data(), "e5");
}

TEST(RaftNodeTest, Snapshot_RestoreDropsALogThatDisagreesAndPassesTheCheckAtTheBoundary) {
  RaftNode node = FollowerWithFiveEntries();
  // Leader 1 moved to term 3, where the snapshot was taken.
  AppendEntriesRequest heartbeat;
  heartbeat.set_term(3);
  heartbeat.set_leader_id(1);
  ASSERT_TRUE(node.Step(RaftMessage::Make(1, 2, heartbeat)).ok());
  while (node.HasReady()) node.Advance(node.GetReady());
  ASSERT_TRUE(node.RestoreSnapshot(SnapshotAt(4, 3)).ok());
  EXPECT_EQ(node.first_index(), 5u);
  EXPECT_EQ(node.last_index(), 4u);
  EXPECT_EQ(node.last_term(), 3u);
  EXPECT_EQ(node.TermAt(4), 3u);
  EXPECT_FALSE(node.TermAt(5).has_value());
  EXPECT_EQ(node.commit_index(), 4u);
  Ready rd = node.GetReady();
  ASSERT_TRUE(rd.snapshot.has_value());
  EXPECT_EQ(rd.snapshot->last_included_term(), 3u);
  EXPECT_EQ(rd.truncate_from, 5u) << "the durable entry 5 is stale";
  EXPECT_TRUE(rd.entries.empty());
  node.Advance(rd);

  // The leader's consistency check at prev = the snapshot's index passes. (The leader is in
  // term 3 by now: its log holds term 3 entries.)
  AppendEntriesRequest append;
  append.set_term(3);
  append.set_leader_id(1);
  append.set_prev_log_index(4);
  append.set_prev_log_term(3);
  append.set_leader_commit(5);
  append.set_sequence(7);
  *append.add_entries() = MakeEntry(5, 3, "new5");
  ASSERT_TRUE(node.Step(RaftMessage::Make(1, 2, append)).ok());
  rd = node.GetReady();
  std::vector<AppendEntriesResponse> resp = PayloadsOf<AppendEntriesResponse>(rd.messages);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_TRUE(resp[0].success());
  EXPECT_EQ(resp[0].match_index(), 5u);
  EXPECT_EQ(rd.truncate_from, 0u);
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(rd.entries[0].data(), "new5");
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(rd.committed_entries[0].data(), "new5");
}

TEST(RaftNodeTest, Snapshot_PendingTruncationCoveredByTheSnapshotMovesPastIt) {
  RaftNode node = FollowerWithFiveEntries();
  // A leader of term 3 overwrites the durable entries 4 and 5; before that reaches the
  // durable log, a snapshot covering the new entry 4 is installed.
  AppendEntriesRequest append;
  append.set_term(3);
  append.set_leader_id(1);
  append.set_prev_log_index(3);
  append.set_prev_log_term(1);
  append.set_leader_commit(2);
  append.set_sequence(1);
  *append.add_entries() = MakeEntry(4, 3, "new4");
  ASSERT_TRUE(node.Step(RaftMessage::Make(1, 2, append)).ok());
  ASSERT_EQ(node.last_index(), 4u);
  ASSERT_TRUE(node.RestoreSnapshot(SnapshotAt(4, 3)).ok());
  EXPECT_EQ(node.first_index(), 5u);
  Ready rd = node.GetReady();
  ASSERT_TRUE(rd.snapshot.has_value());
  EXPECT_EQ(rd.truncate_from, 5u) << "the stale durable entry 5 goes; 4 is the boundary";
  EXPECT_TRUE(rd.entries.empty()) << "entry 4 is covered by the snapshot";
}

TEST(RaftNodeTest, Snapshot_RestoreBeyondTheLogRestartsItAfterTheSnapshot) {
  RaftNode node = FollowerWithFiveEntries();
  ASSERT_TRUE(node.RestoreSnapshot(SnapshotAt(10, 2)).ok());
  EXPECT_EQ(node.first_index(), 11u);
  EXPECT_EQ(node.last_index(), 10u);
  EXPECT_EQ(node.applied_index(), 10u);
  Ready rd = node.GetReady();
  ASSERT_TRUE(rd.snapshot.has_value());
  EXPECT_EQ(rd.truncate_from, 11u);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->commit_index(), 10u);
}

TEST(RaftNodeTest, Snapshot_StaleRestoreIsANoOpAndTheLeaderRefusesToRestore) {
  RaftNode node = FollowerWithFiveEntries();
  EXPECT_TRUE(node.RestoreSnapshot(SnapshotAt(2, 1)).ok());
  EXPECT_TRUE(node.RestoreSnapshot(SnapshotAt(1, 1)).ok());
  EXPECT_FALSE(node.HasReady());
  EXPECT_EQ(node.first_index(), 1u);
  EXPECT_EQ(node.last_index(), 5u);
  EXPECT_EQ(node.commit_index(), 2u);

  RaftNodeOptions options;
  options.id = 1;
  options.voters = {1};
  RaftNode leader(options);
  ASSERT_TRUE(leader.Campaign().ok());
  ASSERT_EQ(leader.role(), Role::kLeader);
  EXPECT_TRUE(absl::IsFailedPrecondition(leader.RestoreSnapshot(SnapshotAt(10, 1))));
  EXPECT_EQ(leader.commit_index(), 1u);
  EXPECT_EQ(leader.last_index(), 1u);
}

TEST(RaftNodeTest, Snapshot_RestoreRefusesASnapshotFromALaterTerm) {
  // Found by raft_message_fuzzer: a forged InstallSnapshot of a later term put the log's
  // last term above the node's term, so no leader's entries could follow it and this node's
  // own entries as leader would have fallen below it.
  RaftNode node = FollowerWithFiveEntries();
  EXPECT_TRUE(absl::IsInvalidArgument(node.RestoreSnapshot(SnapshotAt(10, 3))));
  EXPECT_EQ(node.commit_index(), 2u);
  EXPECT_EQ(node.last_index(), 5u);
  EXPECT_EQ(node.last_term(), 2u);
  EXPECT_FALSE(node.GetReady().snapshot.has_value());
}

TEST(RaftNodeTest, Snapshot_CandidateRestoringASnapshotAbandonsItsCampaign) {
  RaftNode node(ThreeNodeOptions(2), LogWithTerms({1, 1}, 1));
  ASSERT_TRUE(node.Campaign().ok());
  ASSERT_EQ(node.role(), Role::kPreCandidate);
  ASSERT_TRUE(node.RestoreSnapshot(SnapshotAt(4, 1)).ok());
  EXPECT_EQ(node.role(), Role::kFollower);
  EXPECT_EQ(node.term(), 1u);
  EXPECT_EQ(node.commit_index(), 4u);
}

// ---------------------------------------------------------------------------
// Randomized safety check: 3 nodes, random drops, 200 proposals. Every apply is compared
// with every other node's apply at the same index by the harness.

// Runs 3 nodes under random faults until `target` proposals were accepted, then heals the
// network and checks that every node converges on one log.
// Returns the number of terms that had a leader.
size_t RunRandomFaults(uint64_t seed, int target, bool reorder_duplicate_restart) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Network net(3, [seed](RaftNodeOptions& o) { o.seed = seed; });
  std::mt19937_64 rng(seed);
  net.set_drop_rate(0.2);
  if (reorder_duplicate_restart) net.set_reorder_and_duplicate(0.1);
  int proposals = 0;
  int fault_steps_left = 0;
  for (int step = 0; step < 50000 && proposals < target; ++step) {
    for (int64_t id : net.ids()) {
      if (rng() % 2 == 0) net.node(id).Tick();
    }
    const int64_t leader = net.Leader();
    if (leader != 0 && rng() % 4 == 0) {
      if (net.node(leader).Propose("s" + std::to_string(proposals)).ok()) ++proposals;
    }
    if (fault_steps_left > 0 && --fault_steps_left == 0) net.Heal();
    if (fault_steps_left == 0 && rng() % 40 == 0) {
      // A fault lasting 10 to 60 steps: the leader (or a random node) isolated, or one
      // link cut.
      fault_steps_left = 10 + rng() % 50;
      switch (rng() % 3) {
        case 0:
          net.Isolate(leader != 0 ? leader : 1 + rng() % 3);
          break;
        case 1:
          net.Isolate(1 + rng() % 3);
          break;
        default: {
          const int64_t a = 1 + rng() % 3;
          net.Cut(a, a % 3 + 1);
          break;
        }
      }
    }
    if (reorder_duplicate_restart && rng() % 200 == 0) {
      net.ProcessAllReady();  // what a node handed out is durable before it crashes
      net.Restart(1 + rng() % 3);
    }
    net.ProcessAllReady();
    net.DeliverAll();
  }
  EXPECT_EQ(proposals, target);

  net.Heal();
  net.set_drop_rate(0);
  for (int t = 0; t < 200; ++t) {
    net.TickAll();
    net.Stabilize();
  }
  const int64_t leader = net.Leader();
  EXPECT_NE(leader, 0);
  if (leader == 0) return net.leader_terms();
  EXPECT_TRUE(net.node(leader).Propose("final").ok());
  net.Stabilize();
  for (int64_t id : net.ids()) {
    EXPECT_EQ(net.node(id).commit_index(), net.node(leader).commit_index()) << "node " << id;
    EXPECT_EQ(net.node(id).last_index(), net.node(leader).last_index()) << "node " << id;
    EXPECT_EQ(net.storage(id).applied.back().data(), "final") << "node " << id;
  }
  return net.leader_terms();
}

// RAFT_RANDOM_SEEDS=<n> runs more seeds.
int RandomSeeds(int default_seeds) {
  const char* env = std::getenv("RAFT_RANDOM_SEEDS");
  return env == nullptr ? default_seeds : std::max(1, std::atoi(env));
}

TEST(RaftNodeTest, Safety_RandomDropsNeverCommitDifferentEntriesAtOneIndex) {
  const int seeds = RandomSeeds(3);
  size_t leader_terms = 0;
  for (int seed = 1; seed <= seeds; ++seed) leader_terms += RunRandomFaults(seed, 200, false);
  EXPECT_GT(leader_terms, static_cast<size_t>(seeds)) << "the faults never changed leaders";
}

TEST(RaftNodeTest, Safety_ReorderingDuplicationAndRestartsNeverCommitDifferentEntries) {
  const int seeds = RandomSeeds(3);
  size_t leader_terms = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    leader_terms += RunRandomFaults(1000 + seed, 200, true);
  }
  EXPECT_GT(leader_terms, static_cast<size_t>(seeds)) << "the faults never changed leaders";
}

}  // namespace
}  // namespace raft
}  // namespace resdb
