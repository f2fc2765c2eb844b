#include "platform/consensus/ordering/pbft/pbft_replica.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/consensus/ordering/pbft/testing/pbft_test_cluster.h"

namespace resdb {
namespace pbft {
namespace {

using pbft_test::Batch;
using pbft_test::Batches;
using pbft_test::Checkpoint;
using pbft_test::Cluster;
using pbft_test::Executed;
using pbft_test::PrePrepare;
using pbft_test::Vote;

// ---- A single replica driven by hand (n = 4, f = 1; replica 1 is the primary). ----

TEST(PbftReplicaTest, StartsInViewZeroLedByReplicaOne) {
  PbftReplica replica(2, 4);
  EXPECT_EQ(replica.view(), 0u);
  EXPECT_EQ(replica.primary(), 1);
  EXPECT_FALSE(replica.is_primary());
  EXPECT_EQ(replica.quorum(), 3u);
  EXPECT_EQ(replica.low_watermark(), 0u);
  EXPECT_EQ(replica.high_watermark(), 400u);
  EXPECT_EQ(replica.stable_checkpoint(), 0u);
  EXPECT_FALSE(replica.HasActions());
}

TEST(PbftReplicaTest, PrimaryProposeBroadcastsPrePrepareWithNextSeqAndDigest) {
  PbftReplica primary(1, 4);
  const std::string data = Batch("a");
  ASSERT_TRUE(primary.Propose(data).ok());
  ASSERT_TRUE(primary.Propose(Batch("b")).ok());
  Actions actions = primary.TakeActions();
  ASSERT_EQ(actions.broadcast.size(), 2u);
  const Request& m = actions.broadcast[0];
  EXPECT_EQ(m.type(), Request::TYPE_PRE_PREPARE);
  EXPECT_EQ(m.sender_id(), 1);
  EXPECT_EQ(m.view(), 0u);
  EXPECT_EQ(m.seq(), 1u);
  EXPECT_EQ(m.data(), data);
  EXPECT_EQ(m.hash(), BatchDigest(data));
  EXPECT_EQ(actions.broadcast[1].seq(), 2u);
  EXPECT_TRUE(actions.execute.empty());
  EXPECT_FALSE(primary.HasActions());
}

TEST(PbftReplicaTest, ProposeOnBackupIsFailedPrecondition) {
  PbftReplica backup(3, 4);
  EXPECT_EQ(backup.Propose(Batch("a")).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(backup.HasActions());
  EXPECT_EQ(backup.tracked_seq_count(), 0u);
}

TEST(PbftReplicaTest, BackupPreparesAndCountsItsOwnPrepare) {
  PbftReplica backup(2, 4);
  const std::string data = Batch("a");
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, data)).ok());
  Actions actions = backup.TakeActions();
  ASSERT_EQ(actions.broadcast.size(), 1u);
  EXPECT_EQ(actions.broadcast[0].type(), Request::TYPE_PREPARE);
  EXPECT_EQ(actions.broadcast[0].sender_id(), 2);
  EXPECT_EQ(actions.broadcast[0].seq(), 1u);
  EXPECT_EQ(actions.broadcast[0].hash(), BatchDigest(data));

  // Own PREPARE + one more = 2f: prepared, so COMMIT goes out.
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 3, 1, data)).ok());
  actions = backup.TakeActions();
  ASSERT_EQ(actions.broadcast.size(), 1u);
  EXPECT_EQ(actions.broadcast[0].type(), Request::TYPE_COMMIT);

  // Own COMMIT + two more = 2f+1: committed and released.
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 1, 1, data)).ok());
  EXPECT_TRUE(backup.TakeActions().execute.empty());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 3, 1, data)).ok());
  actions = backup.TakeActions();
  EXPECT_EQ(actions.execute, (Executed{{1, data}}));
  EXPECT_EQ(backup.last_executable_seq(), 1u);
}

TEST(PbftReplicaTest, VotesBeforeThePrePrepareCountOnceItArrives) {
  PbftReplica backup(4, 4);
  const std::string data = Batch("a");
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 1, 1, data)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 2, 1, data)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 3, 1, data)).ok());
  EXPECT_FALSE(backup.HasActions());
  EXPECT_EQ(backup.tracked_seq_count(), 1u);

  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, data)).ok());
  Actions actions = backup.TakeActions();
  ASSERT_EQ(actions.broadcast.size(), 2u);
  EXPECT_EQ(actions.broadcast[0].type(), Request::TYPE_PREPARE);
  EXPECT_EQ(actions.broadcast[1].type(), Request::TYPE_COMMIT);
  EXPECT_EQ(actions.execute, (Executed{{1, data}}));
}

TEST(PbftReplicaTest, PrepareFromPrimaryIsRefusedAndNotCounted) {
  PbftReplica backup(2, 4);
  const std::string data = Batch("a");
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, data)).ok());
  backup.TakeActions();
  EXPECT_EQ(backup.Step(Vote(Request::TYPE_PREPARE, 1, 1, data)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(backup.HasActions());  // not prepared: own vote only
}

TEST(PbftReplicaTest, VotesForAnotherDigestDoNotCount) {
  PbftReplica backup(2, 4);
  const std::string data = Batch("a");
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, data)).ok());
  backup.TakeActions();
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 3, 1, Batch("other"))).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 4, 1, Batch("other"))).ok());
  EXPECT_FALSE(backup.HasActions());
}

TEST(PbftReplicaTest, RepeatedVotesCountOnce) {
  PbftReplica backup(2, 4);
  const std::string data = Batch("a");
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, data)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 3, 1, data)).ok());
  backup.TakeActions();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 3, 1, data)).ok());
  }
  EXPECT_FALSE(backup.HasActions());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 4, 1, data)).ok());
  EXPECT_EQ(backup.TakeActions().execute.size(), 1u);
}

TEST(PbftReplicaTest, CommittedBatchesWaitForEarlierSeqs) {
  PbftReplica backup(2, 4);
  const std::string a = Batch("a");
  const std::string b = Batch("b");
  auto commit = [&](uint64_t seq, const std::string& data) {
    ASSERT_TRUE(backup.Step(PrePrepare(1, 0, seq, data)).ok());
    ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 3, seq, data)).ok());
    ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 3, seq, data)).ok());
    ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 4, seq, data)).ok());
  };
  commit(2, b);
  EXPECT_TRUE(backup.TakeActions().execute.empty());
  EXPECT_EQ(backup.last_executable_seq(), 0u);
  commit(1, a);
  EXPECT_EQ(backup.TakeActions().execute, (Executed{{1, a}, {2, b}}));
  EXPECT_EQ(backup.last_executable_seq(), 2u);
}

TEST(PbftReplicaTest, BackupPrePrepareIsRejected) {
  PbftReplica backup(3, 4);
  EXPECT_EQ(backup.Step(PrePrepare(2, 0, 1, Batch("a"))).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(backup.HasActions());
  EXPECT_EQ(backup.tracked_seq_count(), 0u);
}

TEST(PbftReplicaTest, DigestNotMatchingDataIsRejected) {
  PbftReplica backup(3, 4);
  Request m = PrePrepare(1, 0, 1, Batch("a"));
  m.set_hash(BatchDigest(Batch("b")));
  EXPECT_EQ(backup.Step(m).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(backup.HasActions());
  EXPECT_EQ(backup.tracked_seq_count(), 0u);
}

TEST(PbftReplicaTest, SecondPrePrepareWithOtherDigestIsRejected) {
  PbftReplica backup(3, 4);
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, Batch("a"))).ok());
  backup.TakeActions();
  EXPECT_EQ(backup.Step(PrePrepare(1, 0, 1, Batch("b"))).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(backup.HasActions());
  // The same pre-prepare again is a harmless repeat.
  EXPECT_TRUE(backup.Step(PrePrepare(1, 0, 1, Batch("a"))).ok());
  EXPECT_FALSE(backup.HasActions());
}

TEST(PbftReplicaTest, InvalidMessagesAreRefusedWithTheValidatorsError) {
  PbftReplica backup(2, 4);
  const std::string data = Batch("a");
  Request wrong_view = Vote(Request::TYPE_PREPARE, 3, 1, data);
  wrong_view.set_view(1);
  EXPECT_EQ(backup.Step(wrong_view).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(backup.Step(Vote(Request::TYPE_PREPARE, 3, 401, data)).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(backup.Step(Vote(Request::TYPE_PREPARE, 9, 1, data)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backup.Step(Vote(Request::TYPE_PREPARE, 2, 1, data)).code(),
            absl::StatusCode::kInvalidArgument);  // claims to be this replica
  EXPECT_EQ(backup.Step(Checkpoint(3, 150, "s")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(backup.HasActions());
  EXPECT_EQ(backup.tracked_seq_count(), 0u);
}

TEST(PbftReplicaTest, SingleReplicaCommitsAlone) {
  PbftReplica alone(1, 1);
  ASSERT_TRUE(alone.Propose(Batch("a")).ok());
  EXPECT_EQ(alone.TakeActions().execute, (Executed{{1, Batch("a")}}));
}

// ---- Clusters of four replicas (f = 1, quorum 3; replica 1 is the primary). ----

TEST(PbftClusterTest, ProposedBatchIsExecutedByAllInOrder) {
  Cluster cluster(4);
  ASSERT_TRUE(cluster.Propose(Batch("set k1")).ok());
  cluster.Run();
  for (int64_t id = 1; id <= 4; ++id) {
    EXPECT_EQ(cluster.executed(id), Batches(1, 1)) << "replica " << id;
    EXPECT_EQ(cluster.replica(id).last_executable_seq(), 1u);
  }
  EXPECT_EQ(cluster.refused(), 0);
}

TEST(PbftClusterTest, FiftyBatchesWithReorderingAndDuplicationExecuteIdentically) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    PbftReplicaOptions options;
    options.checkpoint_interval = 10;
    options.watermark_window = 100;
    Cluster cluster(4, options, seed);
    cluster.set_reorder(true);
    cluster.set_duplicate_percent(30);
    for (int i = 1; i <= 50; ++i) {
      ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
    }
    cluster.Run();
    for (int64_t id = 1; id <= 4; ++id) {
      EXPECT_EQ(cluster.executed(id), Batches(1, 50)) << "seed " << seed << " replica " << id;
      EXPECT_EQ(cluster.replica(id).stable_checkpoint(), 50u);
      EXPECT_EQ(cluster.replica(id).tracked_seq_count(), 0u);
    }
  }
}

TEST(PbftClusterTest, RandomDropsNeverMakeReplicasDiverge) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Cluster cluster(4, {}, seed);
    cluster.set_reorder(true);
    cluster.set_drop_percent(20);
    for (int i = 1; i <= 20; ++i) {
      ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
    }
    cluster.Run();
    // Without retransmission some batches may not commit, but every replica executes a
    // prefix of the same sequence.
    for (int64_t id = 1; id <= 4; ++id) {
      const Executed& executed = cluster.executed(id);
      Executed expected = Batches(1, 20);
      expected.resize(executed.size());
      EXPECT_EQ(executed, expected) << "seed " << seed << " replica " << id;
    }
  }
}

TEST(PbftClusterTest, OneSilentBackupDoesNotStopCommit) {
  Cluster cluster(4);
  cluster.Silence(4);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
  cluster.Run();
  for (int64_t id = 1; id <= 3; ++id) {
    EXPECT_EQ(cluster.executed(id), Batches(1, 3)) << "replica " << id;
  }
  EXPECT_TRUE(cluster.executed(4).empty());
}

TEST(PbftClusterTest, SilentPrimaryPeersStillCountItsPrePrepare) {
  // The primary's messages reach the backups but the primary hears nothing back: the
  // three backups are still a quorum of commits.
  Cluster cluster(4);
  ASSERT_TRUE(cluster.Propose(Batch("set k1")).ok());
  Actions actions = cluster.replica(1).TakeActions();
  cluster.Silence(1);
  for (int64_t to = 2; to <= 4; ++to) cluster.Inject(to, actions.broadcast[0]);
  cluster.Run();
  for (int64_t id = 2; id <= 4; ++id) EXPECT_EQ(cluster.executed(id), Batches(1, 1));
  EXPECT_TRUE(cluster.executed(1).empty());
}

TEST(PbftClusterTest, TwoSilentBackupsStopAllCommits) {
  Cluster cluster(4);
  cluster.Silence(3);
  cluster.Silence(4);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
  cluster.Run();
  for (int64_t id = 1; id <= 4; ++id) {
    EXPECT_TRUE(cluster.executed(id).empty()) << "replica " << id;
    EXPECT_EQ(cluster.replica(id).last_executable_seq(), 0u);
  }
}

TEST(PbftClusterTest, ByzantinePrimaryConflictingPrePreparesCannotSplitExecution) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Cluster cluster(4, {}, seed);
    cluster.set_reorder(true);
    // Replica 1 is Byzantine: its own state machine is cut off and the test speaks for it.
    cluster.Silence(1);
    const std::string a = Batch("pay alice");
    const std::string b = Batch("pay bob");
    cluster.Inject(2, PrePrepare(1, 0, 1, a));
    cluster.Inject(3, PrePrepare(1, 0, 1, a));
    cluster.Inject(4, PrePrepare(1, 0, 1, b));
    // It also votes for both digests, to each side.
    cluster.Inject(2, Vote(Request::TYPE_COMMIT, 1, 1, a));
    cluster.Inject(3, Vote(Request::TYPE_COMMIT, 1, 1, a));
    cluster.Inject(4, Vote(Request::TYPE_COMMIT, 1, 1, b));
    cluster.Run();

    std::map<uint64_t, std::string> decided;
    for (int64_t id = 2; id <= 4; ++id) {
      for (const auto& [seq, data] : cluster.executed(id)) {
        auto [it, inserted] = decided.emplace(seq, data);
        EXPECT_EQ(it->second, data) << "seed " << seed << " replica " << id << " seq " << seq;
      }
    }
    // Replicas 2 and 3 form a quorum with the primary's vote; 4 cannot commit b.
    EXPECT_EQ(cluster.executed(2), (Executed{{1, a}}));
    EXPECT_EQ(cluster.executed(3), (Executed{{1, a}}));
    EXPECT_TRUE(cluster.executed(4).empty());
  }
}

TEST(PbftClusterTest, CheckpointsBecomeStableAndCollectOldState) {
  PbftReplicaOptions options;
  options.checkpoint_interval = 5;
  options.watermark_window = 20;
  Cluster cluster(4, options);
  for (int i = 1; i <= 7; ++i) ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
  cluster.Run();
  for (int64_t id = 1; id <= 4; ++id) {
    PbftReplica& replica = cluster.replica(id);
    EXPECT_EQ(cluster.executed(id), Batches(1, 7));
    EXPECT_EQ(replica.stable_checkpoint(), 5u);
    EXPECT_EQ(replica.stable_checkpoint_proof().seq(), 5u);
    EXPECT_EQ(replica.stable_checkpoint_proof().checkpoints_size(), 3);
    EXPECT_EQ(replica.low_watermark(), 5u);
    EXPECT_EQ(replica.high_watermark(), 25u);
    // Seqs 6 and 7 are above the checkpoint and still held.
    EXPECT_EQ(replica.tracked_seq_count(), 2u);
  }
  // A late vote for a collected seq is refused by the watermarks.
  EXPECT_EQ(cluster.replica(2).Step(Vote(Request::TYPE_COMMIT, 3, 3, Batch("set k3"))).code(),
            absl::StatusCode::kOutOfRange);

  for (int i = 8; i <= 10; ++i) ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
  cluster.Run();
  for (int64_t id = 1; id <= 4; ++id) {
    EXPECT_EQ(cluster.replica(id).stable_checkpoint(), 10u);
    EXPECT_EQ(cluster.replica(id).high_watermark(), 30u);
    EXPECT_EQ(cluster.replica(id).tracked_seq_count(), 0u);
  }
}

TEST(PbftClusterTest, CheckpointNeedsQuorumOfMatchingStateDigests) {
  PbftReplicaOptions options;
  options.checkpoint_interval = 1;
  options.watermark_window = 4;
  PbftReplica backup(2, 4, options);
  const std::string data = Batch("a");
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, data)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 3, 1, data)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 3, 1, data)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 4, 1, data)).ok());
  ASSERT_EQ(backup.TakeActions().execute.size(), 1u);
  backup.OnExecuted(1, "s1");
  Actions actions = backup.TakeActions();
  ASSERT_EQ(actions.broadcast.size(), 1u);
  EXPECT_EQ(actions.broadcast[0].type(), Request::TYPE_CHECKPOINT);
  EXPECT_EQ(actions.broadcast[0].seq(), 1u);
  EXPECT_EQ(actions.broadcast[0].hash(), "s1");

  ASSERT_TRUE(backup.Step(Checkpoint(3, 1, "s1")).ok());
  ASSERT_TRUE(backup.Step(Checkpoint(4, 1, "other")).ok());
  EXPECT_EQ(backup.stable_checkpoint(), 0u);
  EXPECT_EQ(backup.tracked_seq_count(), 1u);
  ASSERT_TRUE(backup.Step(Checkpoint(1, 1, "s1")).ok());
  EXPECT_EQ(backup.stable_checkpoint(), 1u);
  EXPECT_EQ(backup.tracked_seq_count(), 0u);
}

TEST(PbftClusterTest, StableCheckpointAheadOfReplicaWaitsForItsExecution) {
  PbftReplicaOptions options;
  options.checkpoint_interval = 1;
  options.watermark_window = 4;
  PbftReplica backup(4, 4, options);
  const std::string data = Batch("a");
  // The other three already agree on the state after seq 1 ...
  for (int64_t sender = 1; sender <= 3; ++sender) {
    ASSERT_TRUE(backup.Step(Checkpoint(sender, 1, "s1")).ok());
  }
  EXPECT_EQ(backup.stable_checkpoint(), 0u);
  // ... and their ordering messages for seq 1 are still on their way.
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 2, 1, data)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 3, 1, data)).ok());
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, data)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 2, 1, data)).ok());
  EXPECT_EQ(backup.TakeActions().execute, (Executed{{1, data}}));
  EXPECT_EQ(backup.stable_checkpoint(), 1u);
  EXPECT_EQ(backup.tracked_seq_count(), 0u);
}

TEST(PbftClusterTest, ReplicaCatchingUpAppliesEachStableCheckpointItReaches) {
  PbftReplicaOptions options;
  options.checkpoint_interval = 1;
  options.watermark_window = 4;
  PbftReplica backup(4, 4, options);
  const std::string a = Batch("a");
  for (uint64_t seq = 1; seq <= 2; ++seq) {
    for (int64_t sender = 1; sender <= 3; ++sender) {
      ASSERT_TRUE(backup.Step(Checkpoint(sender, seq, absl::StrCat("s", seq))).ok());
    }
  }
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 3, 2, Batch("b"))).ok());
  EXPECT_EQ(backup.stable_checkpoint(), 0u);
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, a)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 2, 1, a)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 2, 1, a)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_COMMIT, 3, 1, a)).ok());
  EXPECT_EQ(backup.TakeActions().execute, (Executed{{1, a}}));
  // Seq 1 is settled, seq 2 is still being ordered here.
  EXPECT_EQ(backup.stable_checkpoint(), 1u);
  EXPECT_EQ(backup.high_watermark(), 5u);
  EXPECT_EQ(backup.tracked_seq_count(), 1u);
}

TEST(PbftClusterTest, ProposeBeyondHighWatermarkWaitsForStableCheckpoint) {
  PbftReplicaOptions options;
  options.checkpoint_interval = 2;
  options.watermark_window = 4;
  Cluster cluster(4, options);
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
  EXPECT_EQ(cluster.Propose(Batch("set k5")).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(cluster.replica(1).last_proposed_seq(), 4u);

  // A silent quorum keeps the checkpoint from becoming stable: still exhausted.
  Cluster stalled(4, options);
  stalled.Silence(3);
  stalled.Silence(4);
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(stalled.Propose(Batch(absl::StrCat("set k", i))).ok());
  stalled.Run();
  EXPECT_EQ(stalled.Propose(Batch("set k5")).code(), absl::StatusCode::kResourceExhausted);

  cluster.Run();
  EXPECT_EQ(cluster.replica(1).stable_checkpoint(), 4u);
  EXPECT_EQ(cluster.replica(1).high_watermark(), 8u);
  ASSERT_TRUE(cluster.Propose(Batch("set k5")).ok());
  cluster.Run();
  for (int64_t id = 1; id <= 4; ++id) EXPECT_EQ(cluster.executed(id), Batches(1, 5));
}

// ---- View change. ----

namespace view_change {

PreparedCertificate Cert(uint64_t seq, uint64_t view, const std::string& data,
                         const std::vector<int64_t>& senders) {
  PreparedCertificate cert;
  cert.set_seq(seq);
  cert.set_view(view);
  cert.set_digest(BatchDigest(data));
  cert.set_data(data);
  // Unsigned: these replicas have no verifier (plaintext), so only the form counts.
  for (int64_t s : senders) {
    Request prepare = Vote(Request::TYPE_PREPARE, s, seq, data);
    prepare.set_view(view);
    SignedMessage* signed_prepare = cert.add_prepares();
    prepare.SerializeToString(signed_prepare->mutable_data());
    signed_prepare->set_signer(s);
  }
  return cert;
}

using pbft_test::ViewChangeMessage;

Request NewViewMessage(int64_t sender, uint64_t view, const std::vector<Request>& view_changes,
                       const std::vector<Request>& pre_prepares) {
  NewView nv;
  // Unsigned: these replicas have no verifier (plaintext), so only the form counts.
  for (const Request& vc : view_changes) {
    SignedMessage* envelope = nv.add_view_changes();
    vc.SerializeToString(envelope->mutable_data());
    envelope->set_signer(vc.sender_id());
  }
  for (const Request& pp : pre_prepares) *nv.add_pre_prepares() = pp.SerializeAsString();
  Request m;
  m.set_type(Request::TYPE_NEWVIEW);
  m.set_sender_id(sender);
  m.set_view(view);
  nv.SerializeToString(m.mutable_data());
  return m;
}

std::optional<Request> FindType(const Actions& actions, Request::Type type) {
  for (const Request& m : actions.broadcast) {
    if (m.type() == type) return m;
  }
  return std::nullopt;
}

}  // namespace view_change

TEST(PbftViewChangeTest, BackupWithoutPendingWorkDoesNotTimeOut) {
  PbftReplicaOptions options;
  options.view_change_timeout_ticks = 2;
  PbftReplica backup(3, 4, options);
  for (int i = 0; i < 10; ++i) backup.Tick();
  EXPECT_EQ(backup.view(), 0u);
  EXPECT_TRUE(backup.view_active());
  EXPECT_FALSE(backup.HasActions());
}

TEST(PbftViewChangeTest, TimeoutSendsViewChangeWithPreparedCertificate) {
  PbftReplicaOptions options;
  options.view_change_timeout_ticks = 2;
  PbftReplica backup(3, 4, options);
  const std::string a = Batch("a");
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, a)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 2, 1, a)).ok());
  backup.TakeActions();
  backup.Tick();
  EXPECT_TRUE(backup.view_active());
  backup.Tick();
  EXPECT_EQ(backup.view(), 1u);
  EXPECT_FALSE(backup.view_active());
  Actions actions = backup.TakeActions();
  std::optional<Request> vc_message = view_change::FindType(actions, Request::TYPE_VIEWCHANGE);
  ASSERT_TRUE(vc_message.has_value());
  EXPECT_EQ(vc_message->view(), 1u);
  ViewChange vc;
  ASSERT_TRUE(vc.ParseFromString(vc_message->data()));
  EXPECT_EQ(vc.stable_seq(), 0u);
  ASSERT_EQ(vc.prepared_size(), 1);
  EXPECT_EQ(vc.prepared(0).seq(), 1u);
  EXPECT_EQ(vc.prepared(0).view(), 0u);
  // By digest: the batch's data stays out of the VIEWCHANGE.
  EXPECT_EQ(vc.prepared(0).digest(), BatchDigest(a));
  EXPECT_TRUE(vc.prepared(0).data().empty());
  // Replica 2's PREPARE; its own PREPARE is implied.
  ASSERT_EQ(vc.prepared(0).prepares_size(), 1);
  EXPECT_FALSE(vc.prepared(0).has_pre_prepare());
  Request prepare;
  ASSERT_TRUE(prepare.ParseFromString(vc.prepared(0).prepares(0).data()));
  EXPECT_EQ(prepare.sender_id(), 2);
  // Old-view ordering messages are refused now.
  EXPECT_FALSE(backup.Step(Vote(Request::TYPE_COMMIT, 2, 1, a)).ok());
  EXPECT_EQ(backup.Propose(a).code(), absl::StatusCode::kFailedPrecondition);
  // Alone in view 1 it waits instead of running ahead of the others.
  for (int i = 0; i < 4; ++i) backup.Tick();
  EXPECT_EQ(backup.view(), 1u);
  // With a quorum changing to view 1 and no NEWVIEW, the next timeout moves on to view 2.
  ASSERT_TRUE(backup.Step(view_change::ViewChangeMessage(1, 1, {})).ok());
  ASSERT_TRUE(backup.Step(view_change::ViewChangeMessage(4, 1, {})).ok());
  backup.TakeActions();
  backup.Tick();
  backup.Tick();
  EXPECT_EQ(backup.view(), 2u);
  Actions after = backup.TakeActions();
  ASSERT_FALSE(after.broadcast.empty());
  EXPECT_EQ(after.broadcast.back().type(), Request::TYPE_VIEWCHANGE);
  EXPECT_EQ(after.broadcast.back().view(), 2u);
}

TEST(PbftViewChangeTest, MalformedViewChangeIsRejected) {
  PbftReplica backup(3, 4);
  const std::string a = Batch("a");
  // Too few PREPARE senders, and one from the primary of the certificate's view.
  EXPECT_EQ(
      backup.Step(view_change::ViewChangeMessage(2, 1, {view_change::Cert(1, 0, a, {2})})).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backup.Step(view_change::ViewChangeMessage(2, 1, {view_change::Cert(1, 0, a, {1, 2})}))
                .code(),
            absl::StatusCode::kInvalidArgument);
  PreparedCertificate bad_digest = view_change::Cert(1, 0, a, {2, 4});
  bad_digest.set_data(Batch("b"));
  EXPECT_EQ(backup.Step(view_change::ViewChangeMessage(2, 1, {bad_digest})).code(),
            absl::StatusCode::kInvalidArgument);
  // A certificate from the view being changed to.
  EXPECT_EQ(backup.Step(view_change::ViewChangeMessage(2, 1, {view_change::Cert(1, 1, a, {3, 4})}))
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PbftViewChangeTest, FPlusOneViewChangesPullALaggingReplicaIn) {
  PbftReplica backup(4, 4);
  ASSERT_TRUE(backup.Step(view_change::ViewChangeMessage(2, 1, {})).ok());
  EXPECT_EQ(backup.view(), 0u);
  EXPECT_TRUE(backup.view_active());
  EXPECT_FALSE(backup.HasActions());
  ASSERT_TRUE(backup.Step(view_change::ViewChangeMessage(3, 1, {})).ok());
  EXPECT_EQ(backup.view(), 1u);
  EXPECT_FALSE(backup.view_active());
  std::optional<Request> vc = view_change::FindType(backup.TakeActions(), Request::TYPE_VIEWCHANGE);
  ASSERT_TRUE(vc.has_value());
  EXPECT_EQ(vc->view(), 1u);
  EXPECT_EQ(vc->sender_id(), 4);
}

TEST(PbftViewChangeTest, NewPrimaryJoinsAndSendsNewViewWithReproposalsAndNullBatches) {
  PbftReplica next(2, 4);
  const std::string a = Batch("a");
  const std::string c = Batch("c");
  // Replica 3 prepared seq 1 (view 0) and seq 3; replica 4 prepared nothing; seq 2 is a gap.
  ASSERT_TRUE(
      next.Step(view_change::ViewChangeMessage(
                    3, 1, {view_change::Cert(1, 0, a, {3, 4}), view_change::Cert(3, 0, c, {2, 3})}))
          .ok());
  ASSERT_TRUE(next.Step(view_change::ViewChangeMessage(4, 1, {})).ok());
  // f+1 = 2 pulled replica 2 in; with its own that is 2f+1, so it sends NEWVIEW.
  EXPECT_EQ(next.view(), 1u);
  EXPECT_TRUE(next.view_active());
  EXPECT_TRUE(next.is_primary());
  Actions actions = next.TakeActions();
  std::optional<Request> nv_message = view_change::FindType(actions, Request::TYPE_NEWVIEW);
  ASSERT_TRUE(nv_message.has_value());
  NewView nv;
  ASSERT_TRUE(nv.ParseFromString(nv_message->data()));
  EXPECT_EQ(nv.view_changes_size(), 3);
  ASSERT_EQ(nv.pre_prepares_size(), 3);
  std::vector<std::string> digests;
  for (const std::string& bytes : nv.pre_prepares()) {
    Request pp;
    ASSERT_TRUE(pp.ParseFromString(bytes));
    EXPECT_EQ(pp.view(), 1u);
    EXPECT_EQ(pp.sender_id(), 2);
    EXPECT_TRUE(pp.data().empty());
    digests.push_back(pp.hash());
  }
  EXPECT_EQ(digests, (std::vector<std::string>{BatchDigest(a), NullBatchDigest(), BatchDigest(c)}));
  // New proposals continue after the re-proposed seqs.
  ASSERT_TRUE(next.Propose(Batch("d")).ok());
  EXPECT_EQ(next.TakeActions().broadcast.back().seq(), 4u);
}

TEST(PbftViewChangeTest, ByzantineNewViewIsRejected) {
  using view_change::NewViewMessage;
  using view_change::ViewChangeMessage;
  PbftReplicaOptions options;
  options.view_change_timeout_ticks = 1;
  PbftReplica backup(3, 4, options);
  const std::string a = Batch("a");
  ASSERT_TRUE(backup.Step(PrePrepare(1, 0, 1, a)).ok());
  ASSERT_TRUE(backup.Step(Vote(Request::TYPE_PREPARE, 2, 1, a)).ok());
  backup.TakeActions();
  backup.Tick();
  ASSERT_EQ(backup.view(), 1u);
  Actions actions = backup.TakeActions();
  std::optional<Request> own = view_change::FindType(actions, Request::TYPE_VIEWCHANGE);
  ASSERT_TRUE(own.has_value());
  const Request vc3 = *own;
  const Request vc2 = ViewChangeMessage(2, 1, {view_change::Cert(1, 0, a, {2, 3})});
  const Request vc4 = ViewChangeMessage(4, 1, {});
  ASSERT_TRUE(backup.Step(vc2).ok());
  ASSERT_TRUE(backup.Step(vc4).ok());
  // Re-proposals name their batch by digest only.
  Request right = PrePrepare(2, 1, 1, a);
  right.clear_data();

  // The prepared batch is left out.
  EXPECT_EQ(backup.Step(NewViewMessage(2, 1, {vc2, vc3, vc4}, {})).code(),
            absl::StatusCode::kInvalidArgument);
  // Replaced by a null batch, or by another batch.
  EXPECT_EQ(backup.Step(NewViewMessage(2, 1, {vc2, vc3, vc4}, {PrePrepare(2, 1, 1, "")})).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      backup.Step(NewViewMessage(2, 1, {vc2, vc3, vc4}, {PrePrepare(2, 1, 1, Batch("x"))})).code(),
      absl::StatusCode::kInvalidArgument);
  // With the batch's data in it, which the NEWVIEW's size must not depend on.
  EXPECT_EQ(backup.Step(NewViewMessage(2, 1, {vc2, vc3, vc4}, {PrePrepare(2, 1, 1, a)})).code(),
            absl::StatusCode::kInvalidArgument);
  // Too few view-change senders, or the same one twice.
  EXPECT_EQ(backup.Step(NewViewMessage(2, 1, {vc2, vc4}, {right})).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backup.Step(NewViewMessage(2, 1, {vc2, vc2, vc4}, {right})).code(),
            absl::StatusCode::kInvalidArgument);
  // Hiding the certificate by leaving out the view changes that carry it: with replica
  // 3's own one in, a NEWVIEW that drops seq 1 cannot be built from 2f+1 view changes.
  EXPECT_EQ(backup.Step(NewViewMessage(2, 1, {vc3, vc4, ViewChangeMessage(1, 1, {})}, {})).code(),
            absl::StatusCode::kInvalidArgument);
  // Not from the primary of view 1.
  EXPECT_EQ(backup.Step(NewViewMessage(4, 1, {vc2, vc3, vc4}, {right})).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(backup.view_active());
  EXPECT_FALSE(backup.HasActions());

  ASSERT_TRUE(backup.Step(NewViewMessage(2, 1, {vc2, vc3, vc4}, {right})).ok());
  EXPECT_TRUE(backup.view_active());
  EXPECT_EQ(backup.view(), 1u);
  std::optional<Request> prepare =
      view_change::FindType(backup.TakeActions(), Request::TYPE_PREPARE);
  ASSERT_TRUE(prepare.has_value());
  EXPECT_EQ(prepare->view(), 1u);
  EXPECT_EQ(prepare->seq(), 1u);
}

// A NEWVIEW names batch a by digest only; backup 4 never had it, votes on the digest and holds
// the committed batch back until a FETCH answer brings data with that digest. An answer with
// other data at that seq is not taken for it.
TEST(PbftViewChangeTest, ABatchKnownByDigestTakesOnlyDataWithThatDigest) {
  using view_change::NewViewMessage;
  using view_change::ViewChangeMessage;
  PbftReplica backup(4, 4);
  const std::string a = Batch("a");
  const Request vc2 = ViewChangeMessage(2, 1, {view_change::Cert(1, 0, a, {2, 3})});
  const Request vc3 = ViewChangeMessage(3, 1, {view_change::Cert(1, 0, a, {2, 3})});
  ASSERT_TRUE(backup.Step(vc2).ok());
  ASSERT_TRUE(backup.Step(vc3).ok());
  std::optional<Request> own =
      view_change::FindType(backup.TakeActions(), Request::TYPE_VIEWCHANGE);
  ASSERT_TRUE(own.has_value());
  Request reproposal = PrePrepare(2, 1, 1, a);
  reproposal.clear_data();
  ASSERT_TRUE(backup.Step(NewViewMessage(2, 1, {vc2, vc3, *own}, {reproposal})).ok());
  ASSERT_TRUE(backup.view_active());
  for (int64_t sender : {1, 2, 3}) {
    Request commit = Vote(Request::TYPE_COMMIT, sender, 1, a);
    commit.set_view(1);
    ASSERT_TRUE(backup.Step(commit).ok());
  }
  EXPECT_EQ(backup.last_executable_seq(), 0u);
  (void)backup.TakeActions();

  auto fetch_reply = [](int64_t sender, const std::string& data) {
    FetchReply reply;
    reply.set_view(1);
    reply.set_view_active(true);
    reply.set_last_committed(1);
    CommittedBatch* batch = reply.add_batches();
    batch->set_seq(1);
    batch->set_data(data);
    Request message;
    message.set_type(Request::TYPE_RECOVERY_DATA_RESP);
    message.set_sender_id(sender);
    message.set_seq(1);
    reply.SerializeToString(message.mutable_data());
    return message;
  };
  ASSERT_TRUE(backup.Step(fetch_reply(1, Batch("x"))).ok());
  EXPECT_EQ(backup.last_executable_seq(), 0u);
  EXPECT_TRUE(backup.TakeActions().execute.empty());
  ASSERT_TRUE(backup.Step(fetch_reply(3, a)).ok());
  EXPECT_EQ(backup.last_executable_seq(), 1u);
  const Actions released = backup.TakeActions();
  ASSERT_EQ(released.execute.size(), 1u);
  EXPECT_EQ(released.execute[0].second, a);
}

TEST(PbftClusterTest, SilentPrimaryIsReplacedAndPreparedBatchesExecuteOnce) {
  PbftReplicaOptions options;
  options.view_change_timeout_ticks = 5;
  Cluster cluster(4, options);
  for (int i = 1; i <= 2; ++i) ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
  cluster.Run();
  // Seqs 3 and 4 become prepared everywhere but the COMMITs are lost.
  cluster.DropType(Request::TYPE_COMMIT);
  for (int i = 3; i <= 4; ++i) ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
  cluster.Run();
  cluster.AllowType(Request::TYPE_COMMIT);
  for (int64_t id = 1; id <= 4; ++id) EXPECT_EQ(cluster.executed(id), Batches(1, 2));
  cluster.Silence(1);

  cluster.Tick(4);
  for (int64_t id = 2; id <= 4; ++id) EXPECT_EQ(cluster.replica(id).view(), 0u);
  cluster.Tick(1);
  for (int64_t id = 2; id <= 4; ++id) {
    EXPECT_EQ(cluster.replica(id).view(), 1u) << "replica " << id;
    EXPECT_TRUE(cluster.replica(id).view_active()) << "replica " << id;
    EXPECT_EQ(cluster.replica(id).primary(), 2);
    EXPECT_EQ(cluster.executed(id), Batches(1, 4)) << "replica " << id;
  }
  ASSERT_TRUE(cluster.ProposeAt(2, Batch("set k5")).ok());
  cluster.Run();
  cluster.Tick(20);  // nothing pending: no further view change
  for (int64_t id = 2; id <= 4; ++id) {
    EXPECT_EQ(cluster.replica(id).view(), 1u);
    EXPECT_EQ(cluster.executed(id), Batches(1, 5)) << "replica " << id;
  }
  EXPECT_EQ(cluster.executed(1), Batches(1, 2));
}

// VIEWCHANGEs and NEWVIEWs name batches by digest, so their size does not grow with the
// batches'; a replica that never received a re-proposed batch gets it before executing it.
TEST(PbftClusterTest, ViewChangeMessagesStaySmallAndMissingBatchesAreFetched) {
  PbftReplicaOptions options;
  options.view_change_timeout_ticks = 5;
  options.retransmit_ticks = 2;
  Cluster cluster(4, options);
  // Replica 4 misses seqs 1..3; replicas 1..3 prepare them, but the COMMITs are lost.
  cluster.Silence(4);
  cluster.DropType(Request::TYPE_COMMIT);
  constexpr size_t kBatchBytes = 256 * 1024;
  Executed expected;
  for (int i = 1; i <= 3; ++i) {
    const std::string batch = Batch(std::string(kBatchBytes, static_cast<char>('a' + i)));
    ASSERT_TRUE(cluster.Propose(batch).ok());
    expected.emplace_back(i, batch);
  }
  cluster.Run();
  cluster.AllowType(Request::TYPE_COMMIT);
  cluster.Unsilence(4);
  cluster.Silence(1);

  cluster.Tick(40);
  for (int64_t id = 2; id <= 4; ++id) {
    EXPECT_EQ(cluster.replica(id).view(), 1u) << "replica " << id;
    EXPECT_EQ(cluster.executed(id), expected) << "replica " << id;
  }
  EXPECT_GT(cluster.largest(Request::TYPE_VIEWCHANGE), 0u);
  EXPECT_LT(cluster.largest(Request::TYPE_VIEWCHANGE), 4096u);
  EXPECT_GT(cluster.largest(Request::TYPE_NEWVIEW), 0u);
  EXPECT_LT(cluster.largest(Request::TYPE_NEWVIEW), 16384u);
}

TEST(PbftClusterTest, ViewChangeWithReorderingAndDuplicatesKeepsReplicasIdentical) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    PbftReplicaOptions options;
    options.view_change_timeout_ticks = 3;
    Cluster cluster(4, options, seed);
    cluster.set_reorder(true);
    cluster.set_duplicate_percent(20);
    cluster.DropType(Request::TYPE_COMMIT);
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
    }
    cluster.Run();
    cluster.AllowType(Request::TYPE_COMMIT);
    cluster.Silence(1);
    cluster.Tick(3);
    for (int i = 6; i <= 8; ++i) {
      ASSERT_TRUE(cluster.ProposeAt(2, Batch(absl::StrCat("set k", i))).ok()) << "seed " << seed;
    }
    cluster.Run();
    for (int64_t id = 2; id <= 4; ++id) {
      EXPECT_EQ(cluster.executed(id), Batches(1, 8)) << "seed " << seed << " replica " << id;
    }
  }
}

TEST(PbftClusterTest, TwoFailedPrimariesInARowLeadToViewTwo) {
  // n = 7, f = 2: replicas 1 (view 0) and 2 (view 1) are silent; 3 leads view 2.
  PbftReplicaOptions options;
  options.view_change_timeout_ticks = 3;
  Cluster cluster(7, options);
  cluster.DropType(Request::TYPE_COMMIT);
  ASSERT_TRUE(cluster.Propose(Batch("set k1")).ok());
  cluster.Run();
  cluster.AllowType(Request::TYPE_COMMIT);
  cluster.Silence(1);
  cluster.Silence(2);
  cluster.Tick(3);
  for (int64_t id = 3; id <= 7; ++id) {
    EXPECT_EQ(cluster.replica(id).view(), 1u);
    EXPECT_FALSE(cluster.replica(id).view_active());
  }
  cluster.Tick(3);
  for (int64_t id = 3; id <= 7; ++id) {
    EXPECT_EQ(cluster.replica(id).view(), 2u) << "replica " << id;
    EXPECT_TRUE(cluster.replica(id).view_active()) << "replica " << id;
    EXPECT_EQ(cluster.replica(id).primary(), 3);
    EXPECT_EQ(cluster.executed(id), Batches(1, 1)) << "replica " << id;
  }
  ASSERT_TRUE(cluster.ProposeAt(3, Batch("set k2")).ok());
  cluster.Run();
  for (int64_t id = 3; id <= 7; ++id) EXPECT_EQ(cluster.executed(id), Batches(1, 2));
}

TEST(PbftClusterTest, ViewChangeStartsAfterTheStableCheckpointAndDropsUnpreparedBatches) {
  PbftReplicaOptions options;
  options.checkpoint_interval = 2;
  options.watermark_window = 8;
  options.view_change_timeout_ticks = 2;
  Cluster cluster(4, options);
  for (int i = 1; i <= 2; ++i) ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat("set k", i))).ok());
  cluster.Run();
  for (int64_t id = 1; id <= 4; ++id) ASSERT_EQ(cluster.replica(id).stable_checkpoint(), 2u);
  cluster.DropType(Request::TYPE_COMMIT);
  ASSERT_TRUE(cluster.Propose(Batch("set k3")).ok());
  cluster.Run();
  cluster.AllowType(Request::TYPE_COMMIT);
  // Seq 4 reaches replica 3 only: it is not prepared anywhere.
  ASSERT_TRUE(cluster.Propose(Batch("lost")).ok());
  Actions actions = cluster.replica(1).TakeActions();
  cluster.Silence(1);
  cluster.Inject(3, actions.broadcast.back());
  cluster.Run();

  cluster.Tick(2);
  for (int64_t id = 2; id <= 4; ++id) {
    EXPECT_EQ(cluster.replica(id).view(), 1u) << "replica " << id;
    EXPECT_TRUE(cluster.replica(id).view_active()) << "replica " << id;
    EXPECT_EQ(cluster.executed(id), Batches(1, 3)) << "replica " << id;
  }
  ASSERT_TRUE(cluster.ProposeAt(2, Batch("set k4")).ok());
  cluster.Run();
  cluster.Tick(10);
  for (int64_t id = 2; id <= 4; ++id) {
    EXPECT_EQ(cluster.replica(id).view(), 1u) << "replica " << id;
    EXPECT_EQ(cluster.executed(id), Batches(1, 4)) << "replica " << id;
    EXPECT_EQ(cluster.replica(id).stable_checkpoint(), 4u) << "replica " << id;
  }
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
