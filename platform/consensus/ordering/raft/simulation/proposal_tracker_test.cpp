#include "platform/consensus/ordering/raft/simulation/proposal_tracker.h"

#include <string>

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

TEST(ProposalTrackerTest, AcknowledgedWhenTheProposerApplies) {
  ProposalTracker t;
  const std::string p = t.NextPayload();
  EXPECT_NE(p, t.NextPayload());
  t.OnAccepted(p, 1, 1, 5, 2);
  EXPECT_EQ(t.pending(), 1u);
  EXPECT_EQ(t.OnApplied(2, 1, MakeEntry(5, 2, p)), "");  // another node: still pending
  EXPECT_EQ(t.pending(), 1u);
  EXPECT_EQ(t.OnApplied(1, 1, MakeEntry(5, 2, p)), "");
  EXPECT_EQ(t.pending(), 0u);
  EXPECT_EQ(t.counts().acked, 1u);
  EXPECT_EQ(t.max_acked_index(), 5u);
}

TEST(ProposalTrackerTest, ReplacedWithoutReportIsAViolation) {
  ProposalTracker t;
  t.OnAccepted("p1", 1, 1, 5, 2);
  EXPECT_NE(t.OnApplied(1, 1, MakeEntry(5, 3, "")), "");
}

// A dropped proposal's outcome is unknown: another leader may still commit it (Raft paper,
// figure 8). It must then be applied at one index only.
TEST(ProposalTrackerTest, ReportedDropMayStillCommitOnce) {
  ProposalTracker t;
  t.OnAccepted("p1", 1, 1, 5, 2);
  EXPECT_EQ(t.OnDropped(1, 1, 5, "overwritten"), "");
  EXPECT_EQ(t.counts().dropped, 1u);
  EXPECT_EQ(t.OnApplied(2, 1, MakeEntry(5, 2, "p1")), "");
  EXPECT_EQ(t.counts().committed, 1u);
  EXPECT_NE(t.OnApplied(3, 1, MakeEntry(6, 3, "p1")), "");
}

TEST(ProposalTrackerTest, DropOfUnknownProposalIsAViolation) {
  ProposalTracker t;
  EXPECT_NE(t.OnDropped(1, 1, 9, "overwritten"), "");
}

TEST(ProposalTrackerTest, CrashOrphansPendingProposals) {
  ProposalTracker t;
  t.OnAccepted("p1", 1, 1, 5, 2);
  t.OnCrash(1, 1);
  EXPECT_EQ(t.pending(), 0u);
  EXPECT_EQ(t.counts().orphaned, 1u);
  // It may still commit.
  EXPECT_EQ(t.OnApplied(2, 1, MakeEntry(5, 2, "p1")), "");
  EXPECT_EQ(t.counts().committed, 1u);
}

TEST(ProposalTrackerTest, SamePayloadAtTwoIndexesIsAViolation) {
  ProposalTracker t;
  t.OnAccepted("p1", 1, 1, 5, 2);
  EXPECT_EQ(t.OnApplied(1, 1, MakeEntry(5, 2, "p1")), "");
  EXPECT_NE(t.OnApplied(2, 1, MakeEntry(6, 2, "p1")), "");
}

}  // namespace
}  // namespace raft
}  // namespace resdb
