#include "platform/consensus/ordering/pbft/checkpoint_tracker.h"

#include <gtest/gtest.h>

namespace resdb {
namespace pbft {
namespace {

// n = 4, f = 1, quorum 2f+1 = 3, a checkpoint every 100 seqs.
constexpr uint64_t kInterval = 100;
constexpr size_t kQuorum = 3;

// `sender`'s CHECKPOINT as it signed it (the tracker keeps it without looking inside).
SignedMessage Vote(int64_t sender, const std::string& signature = "") {
  SignedMessage vote;
  vote.set_signer(sender);
  vote.set_signature(signature);
  return vote;
}

std::vector<int64_t> Senders(const CheckpointProof& proof) {
  std::vector<int64_t> out;
  for (const SignedMessage& s : proof.checkpoints()) out.push_back(s.signer());
  return out;
}

TEST(CheckpointTrackerTest, CheckpointTracker_StartsAtGenesis) {
  CheckpointTracker tracker(kInterval, kQuorum);
  EXPECT_EQ(tracker.stable_seq(), 0u);
  EXPECT_TRUE(tracker.stable_digest().empty());
  EXPECT_TRUE(tracker.stable_proof().checkpoints().empty());
}

TEST(CheckpointTrackerTest, CheckpointTracker_StableAfterTwoFPlusOneMatchingDigests) {
  CheckpointTracker tracker(kInterval, kQuorum);
  EXPECT_EQ(tracker.Add(100, "s", 1), std::nullopt);
  EXPECT_EQ(tracker.Add(100, "s", 2), std::nullopt);
  EXPECT_EQ(tracker.stable_seq(), 0u);
  EXPECT_EQ(tracker.Add(100, "s", 3), std::optional<uint64_t>(100));
  EXPECT_EQ(tracker.stable_seq(), 100u);
  EXPECT_EQ(tracker.stable_digest(), "s");
}

TEST(CheckpointTrackerTest, CheckpointTracker_MismatchedDigestsDoNotMakeStable) {
  CheckpointTracker tracker(kInterval, kQuorum);
  EXPECT_EQ(tracker.Add(100, "s", 1), std::nullopt);
  EXPECT_EQ(tracker.Add(100, "s", 2), std::nullopt);
  EXPECT_EQ(tracker.Add(100, "t", 3), std::nullopt);
  EXPECT_EQ(tracker.stable_seq(), 0u);
  EXPECT_EQ(tracker.MatchingVotes(100, "s"), 2u);
  EXPECT_EQ(tracker.MatchingVotes(100, "t"), 1u);
  EXPECT_EQ(tracker.Add(100, "s", 4), std::optional<uint64_t>(100));
}

TEST(CheckpointTrackerTest, CheckpointTracker_KeepsProofOfLatestStableCheckpoint) {
  CheckpointTracker tracker(kInterval, kQuorum);
  tracker.Add(100, "s", 4, Vote(4, "sig4"));
  tracker.Add(100, "t", 1, Vote(1, "sig1-other"));
  tracker.Add(100, "s", 2, Vote(2, "sig2"));
  tracker.Add(100, "s", 3, Vote(3, "sig3"));
  const CheckpointProof& proof = tracker.stable_proof();
  EXPECT_EQ(proof.seq(), 100u);
  EXPECT_EQ(proof.digest(), "s");
  ASSERT_EQ(proof.checkpoints_size(), static_cast<int>(kQuorum));
  EXPECT_EQ(Senders(proof), (std::vector<int64_t>{4, 2, 3}));
  EXPECT_EQ(proof.checkpoints(0).signature(), "sig4");
  EXPECT_EQ(proof.checkpoints(1).signature(), "sig2");
  EXPECT_EQ(proof.checkpoints(2).signature(), "sig3");

  tracker.Add(200, "u", 1, Vote(1, "a"));
  tracker.Add(200, "u", 2, Vote(2, "b"));
  EXPECT_EQ(tracker.stable_proof().seq(), 100u);
  tracker.Add(200, "u", 3, Vote(3, "c"));
  EXPECT_EQ(tracker.stable_proof().seq(), 200u);
  EXPECT_EQ(tracker.stable_proof().digest(), "u");
  EXPECT_EQ(Senders(tracker.stable_proof()), (std::vector<int64_t>{1, 2, 3}));
}

TEST(CheckpointTrackerTest, CheckpointTracker_CountsEachSenderOnce) {
  CheckpointTracker tracker(kInterval, kQuorum);
  EXPECT_EQ(tracker.Add(100, "s", 1), std::nullopt);
  EXPECT_EQ(tracker.Add(100, "s", 1), std::nullopt);
  EXPECT_EQ(tracker.Add(100, "s", 1), std::nullopt);
  EXPECT_EQ(tracker.Add(100, "s", 2), std::nullopt);
  EXPECT_EQ(tracker.stable_seq(), 0u);
  EXPECT_EQ(tracker.MatchingVotes(100, "s"), 2u);
}

TEST(CheckpointTrackerTest, CheckpointTracker_RecordsConflictingDigestWithoutCountingIt) {
  CheckpointTracker tracker(kInterval, kQuorum);
  tracker.Add(100, "s", 1);
  EXPECT_EQ(tracker.Add(100, "t", 1), std::nullopt);
  EXPECT_EQ(tracker.ConflictingSenders(100), (std::vector<int64_t>{1}));
  EXPECT_EQ(tracker.conflict_count(), 1u);
  EXPECT_EQ(tracker.MatchingVotes(100, "t"), 0u);
  tracker.Add(100, "t", 2, Vote(2));
  EXPECT_EQ(tracker.Add(100, "t", 3, Vote(3)), std::nullopt);
  EXPECT_EQ(tracker.Add(100, "t", 4, Vote(4)), std::optional<uint64_t>(100));
  EXPECT_EQ(Senders(tracker.stable_proof()), (std::vector<int64_t>{2, 3, 4}));
}

TEST(CheckpointTrackerTest, CheckpointTracker_RejectsSeqNotMultipleOfInterval) {
  CheckpointTracker tracker(kInterval, kQuorum);
  for (int64_t sender = 1; sender <= 4; ++sender) {
    EXPECT_EQ(tracker.Add(150, "s", sender), std::nullopt);
    EXPECT_EQ(tracker.Add(0, "s", sender), std::nullopt);
  }
  EXPECT_EQ(tracker.stable_seq(), 0u);
  EXPECT_EQ(tracker.pending_seq_count(), 0u);
  EXPECT_EQ(tracker.refused_count(), 8u);
}

TEST(CheckpointTrackerTest, CheckpointTracker_RejectsEmptyDigest) {
  CheckpointTracker tracker(kInterval, kQuorum);
  for (int64_t sender = 1; sender <= 3; ++sender) {
    EXPECT_EQ(tracker.Add(100, "", sender), std::nullopt);
  }
  EXPECT_EQ(tracker.stable_seq(), 0u);
  EXPECT_EQ(tracker.pending_seq_count(), 0u);
}

TEST(CheckpointTrackerTest, CheckpointTracker_DropsStateAtOrBelowStableCheckpoint) {
  CheckpointTracker tracker(kInterval, kQuorum);
  tracker.Add(100, "a", 1);
  tracker.Add(200, "b", 1);
  tracker.Add(300, "c", 1);
  EXPECT_EQ(tracker.pending_seq_count(), 3u);

  tracker.Add(200, "b", 2);
  EXPECT_EQ(tracker.Add(200, "b", 3), std::optional<uint64_t>(200));
  // 100 and 200 are gone, 300 is still pending.
  EXPECT_EQ(tracker.pending_seq_count(), 1u);
  EXPECT_EQ(tracker.MatchingVotes(100, "a"), 0u);
  EXPECT_EQ(tracker.MatchingVotes(300, "c"), 1u);
}

TEST(CheckpointTrackerTest, CheckpointTracker_NeverMovesBackwards) {
  CheckpointTracker tracker(kInterval, kQuorum);
  tracker.Add(200, "b", 1);
  tracker.Add(200, "b", 2);
  ASSERT_EQ(tracker.Add(200, "b", 3), std::optional<uint64_t>(200));
  // A quorum for an older checkpoint arrives late: refused, stable stays at 200.
  for (int64_t sender = 1; sender <= 4; ++sender) {
    EXPECT_EQ(tracker.Add(100, "a", sender), std::nullopt);
  }
  // A late fourth vote for the stable checkpoint does not report it again.
  EXPECT_EQ(tracker.Add(200, "b", 4), std::nullopt);
  EXPECT_EQ(tracker.stable_seq(), 200u);
  EXPECT_EQ(tracker.stable_digest(), "b");
  EXPECT_EQ(tracker.pending_seq_count(), 0u);
}

TEST(CheckpointTrackerTest, CheckpointTracker_CanSkipCheckpoints) {
  CheckpointTracker tracker(kInterval, kQuorum);
  tracker.Add(100, "a", 1);
  tracker.Add(300, "c", 1);
  tracker.Add(300, "c", 2);
  EXPECT_EQ(tracker.Add(300, "c", 3), std::optional<uint64_t>(300));
  EXPECT_EQ(tracker.pending_seq_count(), 0u);
}

TEST(CheckpointTrackerTest, CheckpointTracker_RefusesSeqTooFarAheadOfStable) {
  CheckpointTracker tracker(kInterval, kQuorum, /*max_ahead=*/400);
  EXPECT_EQ(tracker.Add(500, "e", 1), std::nullopt);
  EXPECT_EQ(tracker.pending_seq_count(), 0u);
  tracker.Add(400, "d", 1);
  EXPECT_EQ(tracker.pending_seq_count(), 1u);

  tracker.Add(100, "a", 1);
  tracker.Add(100, "a", 2);
  ASSERT_EQ(tracker.Add(100, "a", 3), std::optional<uint64_t>(100));
  // The bound follows the stable checkpoint.
  tracker.Add(500, "e", 1);
  EXPECT_EQ(tracker.MatchingVotes(500, "e"), 1u);
  EXPECT_EQ(tracker.Add(600, "f", 1), std::nullopt);
  EXPECT_EQ(tracker.MatchingVotes(600, "f"), 0u);
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
