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

}  // namespace
}  // namespace raft
}  // namespace resdb
