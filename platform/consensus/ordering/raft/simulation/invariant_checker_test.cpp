#include "platform/consensus/ordering/raft/simulation/invariant_checker.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace raft {
namespace {

Entry MakeEntry(uint64_t index, uint64_t term, const std::string& data) {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data);
  return e;
}

// A RaftNode that believes it leads `term` with `entries` in its log.
RaftNode LeaderWith(int64_t id, uint64_t term, std::vector<Entry> entries) {
  RaftNodeOptions options;
  options.id = id;
  options.voters = {id};
  RaftRestoredState restored;
  restored.hard_state.set_current_term(term - 1);
  restored.entries = std::move(entries);
  RaftNode node(options, restored);
  EXPECT_TRUE(node.Campaign().ok());
  EXPECT_EQ(node.role(), Role::kLeader);
  EXPECT_EQ(node.term(), term);
  return node;
}

TEST(InvariantCheckerTest, AgreeingLogsPass) {
  InvariantChecker checker;
  for (int64_t node : {1, 2}) {
    checker.OnDurableAppend(node, {MakeEntry(1, 1, "a"), MakeEntry(2, 1, "b")});
    checker.OnApply(node, 1, MakeEntry(1, 1, "a"));
  }
  checker.OnDurableTruncate(2, 2);
  checker.OnDurableAppend(2, {MakeEntry(2, 2, "c")});
  EXPECT_TRUE(checker.ok()) << checker.violation();
}

TEST(InvariantCheckerTest, LogMatchingCatchesADifferentPrefix) {
  InvariantChecker checker;
  checker.OnDurableAppend(1, {MakeEntry(1, 1, "a"), MakeEntry(2, 2, "b")});
  checker.OnDurableAppend(2, {MakeEntry(1, 1, "x"), MakeEntry(2, 2, "b")});
  EXPECT_FALSE(checker.ok());
  EXPECT_NE(checker.violation().find("log matching"), std::string::npos);
}

TEST(InvariantCheckerTest, RestoredLogMustBeWhatWasWritten) {
  InvariantChecker checker;
  checker.OnDurableAppend(1, {MakeEntry(1, 1, "a")});
  checker.CheckRestoredLog(1, 1, {MakeEntry(1, 1, "a")});
  EXPECT_TRUE(checker.ok());
  checker.CheckRestoredLog(1, 1, {});
  EXPECT_FALSE(checker.ok());
}

TEST(InvariantCheckerTest, StateMachineSafety) {
  InvariantChecker checker;
  checker.OnApply(1, 1, MakeEntry(1, 1, "a"));
  checker.OnApply(2, 2, MakeEntry(1, 1, "b"));
  EXPECT_FALSE(checker.ok());
  EXPECT_NE(checker.violation().find("state machine safety"), std::string::npos);
}

TEST(InvariantCheckerTest, ElectionSafety) {
  InvariantChecker checker;
  RaftNode a = LeaderWith(1, 3, {});
  RaftNode b = LeaderWith(2, 3, {});
  checker.CheckNodes({{1, &a}});
  EXPECT_TRUE(checker.ok());
  checker.CheckNodes({{2, &b}});
  EXPECT_FALSE(checker.ok());
  EXPECT_NE(checker.violation().find("election safety"), std::string::npos);
}

TEST(InvariantCheckerTest, LeaderCompleteness) {
  InvariantChecker checker;
  checker.OnApply(1, 1, MakeEntry(1, 1, "a"));
  RaftNode has_it = LeaderWith(2, 2, {MakeEntry(1, 1, "a")});
  checker.CheckNodes({{2, &has_it}});
  EXPECT_TRUE(checker.ok()) << checker.violation();
  RaftNode lacks_it = LeaderWith(3, 3, {});
  checker.CheckNodes({{3, &lacks_it}});
  EXPECT_FALSE(checker.ok());
  EXPECT_NE(checker.violation().find("leader completeness"), std::string::npos);
}

TEST(InvariantCheckerTest, LeaderOfTheCommittingTermIsNotHeldToLaterCommits) {
  InvariantChecker checker;
  // Committed as seen from term 5: a leader of term 5 or below may legitimately lack it.
  checker.OnApply(1, 5, MakeEntry(1, 5, "a"));
  RaftNode stale = LeaderWith(2, 4, {});
  checker.CheckNodes({{2, &stale}});
  EXPECT_TRUE(checker.ok()) << checker.violation();
}

TEST(InvariantCheckerTest, CompactedLogsAreComparedWhereBothHoldEntries) {
  InvariantChecker checker;
  const std::vector<Entry> log = {MakeEntry(1, 1, "a"), MakeEntry(2, 1, "b"), MakeEntry(3, 2, "c")};
  checker.OnDurableAppend(1, log);
  checker.OnDurableAppend(2, log);
  checker.OnDurableCompact(1, 2, 1);  // keeps entry 3
  checker.OnDurableAppend(1, {MakeEntry(4, 2, "d")});
  checker.OnDurableAppend(2, {MakeEntry(4, 2, "d")});
  checker.CheckRestoredLog(1, 3, {MakeEntry(3, 2, "c"), MakeEntry(4, 2, "d")});
  EXPECT_TRUE(checker.ok()) << checker.violation();
  checker.CheckRestoredLog(1, 1, log);
  EXPECT_FALSE(checker.ok());
}

TEST(InvariantCheckerTest, LogRestartedAfterASnapshotContinuesTheChain) {
  InvariantChecker checker;
  checker.OnDurableAppend(1, {MakeEntry(1, 1, "a"), MakeEntry(2, 2, "b")});
  checker.OnDurableAppend(2, {MakeEntry(1, 1, "a"), MakeEntry(2, 1, "stale")});
  // Node 2's log disagrees at the snapshot's index: it restarts after it.
  checker.OnDurableCompact(2, 2, 2);
  checker.OnDurableAppend(1, {MakeEntry(3, 2, "c")});
  checker.OnDurableAppend(2, {MakeEntry(3, 2, "c")});
  EXPECT_TRUE(checker.ok()) << checker.violation();
  checker.OnDurableAppend(2, {MakeEntry(4, 2, "x")});
  checker.OnDurableAppend(1, {MakeEntry(4, 2, "y")});
  EXPECT_FALSE(checker.ok());
  EXPECT_NE(checker.violation().find("log matching"), std::string::npos);
}

TEST(InvariantCheckerTest, SnapshotOfAnEntryNobodyWroteFails) {
  InvariantChecker checker;
  checker.OnDurableCompact(1, 5, 3);
  EXPECT_FALSE(checker.ok());
}

TEST(InvariantCheckerTest, InstalledSnapshotCountsAsApplied) {
  InvariantChecker checker;
  checker.OnApply(1, 1, MakeEntry(1, 1, "a"));
  checker.OnInstall(2, 2, {MakeEntry(1, 1, "a"), MakeEntry(2, 2, "b")});
  EXPECT_TRUE(checker.ok()) << checker.violation();
  checker.OnApply(3, 2, MakeEntry(2, 2, "other"));
  EXPECT_FALSE(checker.ok());
  EXPECT_NE(checker.violation().find("state machine safety"), std::string::npos);
}

TEST(InvariantCheckerTest, LeaderCompletenessSkipsWhatTheLeaderCompacted) {
  InvariantChecker checker;
  checker.OnApply(1, 1, MakeEntry(1, 1, "a"));
  checker.OnApply(1, 1, MakeEntry(2, 1, "b"));
  RaftNodeOptions options;
  options.id = 2;
  options.voters = {2};
  RaftRestoredState restored;
  restored.hard_state.set_current_term(1);
  restored.hard_state.set_commit_index(2);
  restored.snapshot.set_last_included_index(2);
  restored.snapshot.set_last_included_term(1);
  RaftNode leader(options, restored);
  ASSERT_TRUE(leader.Campaign().ok());
  ASSERT_EQ(leader.role(), Role::kLeader);
  checker.CheckNodes({{2, &leader}});
  EXPECT_TRUE(checker.ok()) << checker.violation();
}

// ---------------------------------------------------------------------------
// Membership checks

Membership MakeMembership(std::vector<int64_t> voters, std::vector<int64_t> learners) {
  Membership m;
  for (int64_t v : voters) m.add_voters(v);
  for (int64_t l : learners) m.add_learners(l);
  return m;
}

Entry MakeConfig(uint64_t index, uint64_t term, const Membership& m) {
  Entry e = MakeEntry(index, term, m.SerializeAsString());
  e.set_type(Entry::CONFIG);
  return e;
}

// Node 1 leading term 2 of voters {1, 2, 3}, its log entry 1 (term 1) and its NOOP at 2,
// nothing committed yet.
RaftNode ElectedLeader() {
  RaftNodeOptions options;
  options.id = 1;
  options.voters = {1, 2, 3};
  options.pre_vote = false;
  RaftRestoredState restored;
  restored.hard_state.set_current_term(1);
  restored.entries = {MakeEntry(1, 1, "a")};
  RaftNode node(options, restored);
  EXPECT_TRUE(node.Campaign().ok());
  RequestVoteResponse vote;
  vote.set_term(2);
  vote.set_voter_id(2);
  vote.set_vote_granted(true);
  EXPECT_TRUE(node.Step(RaftMessage::Make(2, 1, vote)).ok());
  EXPECT_EQ(node.role(), Role::kLeader);
  EXPECT_EQ(node.last_index(), 2u);
  return node;
}

// `from` acknowledges the leader's log up to `match`.
void Ack(RaftNode& leader, int64_t from, uint64_t match) {
  AppendEntriesResponse resp;
  resp.set_term(leader.term());
  resp.set_follower_id(from);
  resp.set_success(true);
  resp.set_match_index(match);
  resp.set_sequence(1);
  EXPECT_TRUE(leader.Step(RaftMessage::Make(from, leader.id(), resp)).ok());
}

TEST(InvariantCheckerMembershipTest, CommitQuorumCountsDurableVotersOnly) {
  InvariantChecker checker;
  const std::vector<Entry> log = {MakeEntry(1, 1, "a"), MakeEntry(2, 2, "b")};
  checker.OnDurableAppend(1, log);
  checker.OnDurableAppend(2, log);
  checker.CheckCommitQuorum(1, MakeMembership({1, 2, 3}, {}), 2, 2);
  EXPECT_TRUE(checker.ok()) << checker.violation();
  // Node 1 is only a learner here (or a leader that removed itself): 2 alone is no majority
  // of {2, 3, 4}.
  checker.CheckCommitQuorum(1, MakeMembership({2, 3, 4}, {1}), 2, 2);
  EXPECT_FALSE(checker.ok());
  EXPECT_NE(checker.violation().find("commit quorum"), std::string::npos);
}

TEST(InvariantCheckerMembershipTest, CommitQuorumIsCheckedWhenALeaderCommits) {
  for (bool follower_persisted : {true, false}) {
    InvariantChecker checker;
    RaftNode leader = ElectedLeader();
    const std::vector<Entry> log = {MakeEntry(1, 1, "a"), MakeEntry(2, 2, "")};
    checker.OnDurableAppend(1, log);
    checker.OnDurableAppend(2, follower_persisted ? log : std::vector<Entry>{log[0]});
    checker.CheckNodes({{1, &leader}});
    Ack(leader, 2, 2);
    ASSERT_EQ(leader.commit_index(), 2u);
    checker.CheckNodes({{1, &leader}});
    EXPECT_EQ(checker.ok(), follower_persisted) << checker.violation();
    if (!follower_persisted) {
      EXPECT_NE(checker.violation().find("commit quorum"), std::string::npos);
    }
  }
}

TEST(InvariantCheckerMembershipTest, OneUncommittedConfigEntryAtATime) {
  RaftNode leader = ElectedLeader();
  Ack(leader, 2, 2);
  ASSERT_TRUE(leader.ProposeMembership(MembershipChange::kAddLearner, 4, "").ok());
  const Membership with_4 = MakeMembership({1, 2, 3}, {4});
  const std::vector<Entry> log = {MakeEntry(1, 1, "a"), MakeEntry(2, 2, ""),
                                  MakeConfig(3, 2, with_4)};
  InvariantChecker good;
  good.OnDurableAppend(1, log);
  good.CheckNodes({{1, &leader}});
  EXPECT_TRUE(good.ok()) << good.violation();

  // A log holding a second uncommitted change on top of the first.
  InvariantChecker bad;
  bad.OnDurableAppend(1, log);
  bad.OnDurableAppend(1, {MakeConfig(4, 2, MakeMembership({1, 2, 3, 4}, {}))});
  bad.CheckNodes({{1, &leader}});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.violation().find("one change at a time"), std::string::npos);
}

TEST(InvariantCheckerMembershipTest, LeadersAreVoters) {
  RaftNode leader = ElectedLeader();
  Ack(leader, 2, 2);
  const std::vector<Entry> log = {MakeEntry(1, 1, "a"), MakeEntry(2, 2, "")};
  InvariantChecker checker;
  checker.OnDurableAppend(1, log);
  checker.CheckNodes({{1, &leader}});
  // A leader removing itself leads on until the removal commits.
  ASSERT_TRUE(leader.ProposeMembership(MembershipChange::kRemove, 1, "").ok());
  ASSERT_EQ(leader.role(), Role::kLeader);
  const Entry removal = MakeConfig(3, 2, MakeMembership({2, 3}, {}));
  checker.OnDurableAppend(1, {removal});
  checker.CheckNodes({{1, &leader}});
  EXPECT_TRUE(checker.ok()) << checker.violation();
  // Seen for the first time as leader, outside its configuration's voters: not electable.
  InvariantChecker fresh;
  fresh.OnDurableAppend(1, log);
  fresh.OnDurableAppend(1, {removal});
  fresh.CheckNodes({{1, &leader}});
  EXPECT_FALSE(fresh.ok());
  EXPECT_NE(fresh.violation().find("leaders are voters"), std::string::npos);
}

TEST(InvariantCheckerMembershipTest, ConfigurationsAgreeAtCommittedIndexes) {
  const Membership m1 = MakeMembership({1, 2, 3}, {4});
  const Membership m2 = MakeMembership({1, 2, 3}, {5});
  RaftNodeOptions options;
  options.id = 1;
  options.voters = {1, 2, 3};
  RaftRestoredState restored;
  restored.hard_state.set_current_term(1);
  restored.hard_state.set_commit_index(1);
  restored.entries = {MakeConfig(1, 1, m2)};
  RaftNode node(options, restored);
  ASSERT_EQ(node.commit_index(), 1u);

  InvariantChecker agree;
  agree.OnApply(2, 1, MakeConfig(1, 1, m2));
  agree.CheckNodes({{1, &node}});
  EXPECT_TRUE(agree.ok()) << agree.violation();

  InvariantChecker disagree;
  disagree.OnApply(2, 1, MakeConfig(1, 1, m1));
  disagree.CheckNodes({{1, &node}});
  EXPECT_FALSE(disagree.ok());
  EXPECT_NE(disagree.violation().find("configuration agreement"), std::string::npos);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
