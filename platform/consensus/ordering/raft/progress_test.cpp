#include "platform/consensus/ordering/raft/progress.h"

#include <gtest/gtest.h>

namespace resdb {
namespace raft {
namespace {

TEST(InflightsTest, FullByCountOrBytesAndFreedCumulatively) {
  Inflights in(3, 100);
  in.Add(1, 0, 2, 10);
  in.Add(2, 2, 4, 10);
  EXPECT_FALSE(in.Full());
  in.Add(3, 4, 6, 10);
  EXPECT_TRUE(in.Full());
  EXPECT_EQ(in.PrevIndexOf(2), 2u);
  in.FreeLE(4);
  EXPECT_EQ(in.count(), 1);
  EXPECT_EQ(in.bytes(), 10u);
  EXPECT_FALSE(in.PrevIndexOf(2).has_value());
  in.Add(4, 6, 7, 95);
  EXPECT_TRUE(in.Full());  // bytes
}

TEST(ProgressTest, ProbeSendsOneAppendAtATimeThenReplicates) {
  Progress pr(/*next=*/10, /*max_inflight=*/2, /*max_inflight_bytes=*/0);
  EXPECT_EQ(pr.state(), ProgressState::kProbe);
  EXPECT_FALSE(pr.IsPaused());
  pr.SentAppend(1, 9, 10, 5);
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_EQ(pr.InflightPrevIndex(1), 9u);
  EXPECT_EQ(pr.next(), 10u) << "probing does not move next optimistically";

  ASSERT_TRUE(pr.MaybeUpdate(10));
  pr.BecomeReplicate();
  EXPECT_EQ(pr.next(), 11u);
  pr.SentAppend(2, 10, 12, 5);
  pr.SentAppend(3, 12, 14, 5);
  EXPECT_EQ(pr.next(), 15u);
  EXPECT_TRUE(pr.IsPaused()) << "window of 2 is full";
  EXPECT_TRUE(pr.MaybeUpdate(12));
  EXPECT_FALSE(pr.IsPaused());
  EXPECT_EQ(pr.inflights().count(), 1);
}

TEST(ProgressTest, RejectionMovesNextBackWithinMatchAndRejectedIndex) {
  Progress pr(/*next=*/20, 4, 0);
  pr.SentAppend(1, 19, 20, 1);
  EXPECT_FALSE(pr.MaybeDecrTo(15, 5)) << "not the index this probe was sent at";
  EXPECT_TRUE(pr.MaybeDecrTo(19, 5));
  EXPECT_EQ(pr.next(), 5u);
  EXPECT_FALSE(pr.IsPaused());

  // A hint above the rejected index is clamped to it.
  pr.SentAppend(2, 4, 5, 1);
  EXPECT_TRUE(pr.MaybeDecrTo(4, 100));
  EXPECT_EQ(pr.next(), 4u);
}

TEST(ProgressTest, ReplicateFallsBackToProbeOnRejection) {
  Progress pr(1, 4, 0);
  pr.MaybeUpdate(5);
  pr.BecomeReplicate();
  pr.SentAppend(6, 5, 7, 3);
  pr.SentAppend(7, 7, 9, 3);
  EXPECT_FALSE(pr.MaybeDecrTo(5, 1)) << "stale: the follower already matches index 5";
  EXPECT_TRUE(pr.MaybeDecrTo(7, 3));
  EXPECT_EQ(pr.state(), ProgressState::kProbe);
  EXPECT_EQ(pr.next(), 6u) << "clamped to match + 1";
  EXPECT_EQ(pr.inflights().count(), 0);
}

TEST(ProgressTest, SnapshotStateSendsNothingUntilCaughtUp) {
  Progress pr(3, 4, 0);
  pr.BecomeSnapshot(50);
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_FALSE(pr.MaybeDecrTo(10, 5));
  pr.MaybeUpdate(50);
  pr.BecomeProbe();
  EXPECT_EQ(pr.next(), 51u);
  EXPECT_FALSE(pr.IsPaused());
}

TEST(ProgressTest, SnapshotDoneProbesPastTheSnapshotOrFromMatchAndWaitsForAnAnswer) {
  Progress ok(3, 4, 0);
  ok.MaybeUpdate(2);
  ok.BecomeSnapshot(50);
  ok.SnapshotDone(true);
  EXPECT_EQ(ok.state(), ProgressState::kProbe);
  EXPECT_EQ(ok.next(), 51u);
  EXPECT_EQ(ok.pending_snapshot(), 0u);
  EXPECT_TRUE(ok.IsPaused());
  EXPECT_FALSE(ok.InflightPrevIndex(7).has_value());
  ok.OnHeartbeatResponse();
  EXPECT_FALSE(ok.IsPaused());

  Progress failed(3, 4, 0);
  failed.MaybeUpdate(2);
  failed.BecomeSnapshot(50);
  failed.SnapshotDone(false);
  EXPECT_EQ(failed.state(), ProgressState::kProbe);
  EXPECT_EQ(failed.next(), 3u) << "the snapshot was never installed: retry from match + 1";
  EXPECT_TRUE(failed.IsPaused());
  EXPECT_TRUE(failed.MaybeUpdate(3)) << "an acknowledgement also ends the pause";
  EXPECT_FALSE(failed.IsPaused());

  Progress replicating(3, 4, 0);
  replicating.MaybeUpdate(2);
  replicating.BecomeReplicate();
  replicating.SnapshotDone(true);
  EXPECT_EQ(replicating.state(), ProgressState::kReplicate) << "only kSnapshot is left";
  EXPECT_EQ(replicating.next(), 3u);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
