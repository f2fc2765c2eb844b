// PbftReplica after loss, isolation and restart: retransmission, catch-up through FETCH, and
// restore from durable records.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/evidence.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/consensus/ordering/pbft/testing/fake_replica_keys.h"
#include "platform/consensus/ordering/pbft/testing/pbft_test_cluster.h"

namespace resdb {
namespace pbft {
namespace {

using pbft_test::Batch;
using pbft_test::Cluster;
using pbft_test::Executed;

PbftReplicaOptions SmallWindow() {
  PbftReplicaOptions options;
  options.checkpoint_interval = 2;
  options.watermark_window = 4;
  options.view_change_timeout_ticks = 6;
  options.retransmit_ticks = 2;
  return options;
}

// Proposes batches "<prefix>1".."<prefix>count" at the primary, each delivered before the next.
void ProposeBatches(Cluster& cluster, const std::string& prefix, int count) {
  for (int i = 1; i <= count; ++i) {
    ASSERT_TRUE(cluster.Propose(Batch(absl::StrCat(prefix, i))).ok()) << prefix << i;
    cluster.Run();
  }
}

Request FetchReplyFrom(int64_t sender, uint64_t from, const std::vector<std::string>& batches,
                       uint64_t view = 0, bool active = true) {
  FetchReply reply;
  reply.set_view(view);
  reply.set_view_active(active);
  reply.set_last_committed(from + batches.size() - 1);
  for (size_t i = 0; i < batches.size(); ++i) {
    CommittedBatch* batch = reply.add_batches();
    batch->set_seq(from + i);
    batch->set_data(batches[i]);
  }
  Request message;
  message.set_type(Request::TYPE_RECOVERY_DATA_RESP);
  message.set_sender_id(sender);
  message.set_seq(from);
  reply.SerializeToString(message.mutable_data());
  return message;
}

TEST(PbftRetransmitTest, LostPreparesAreSentAgainAndTheBatchCommits) {
  Cluster cluster(4, SmallWindow());
  cluster.DropType(Request::TYPE_PREPARE);
  ASSERT_TRUE(cluster.Propose(Batch("a")).ok());
  cluster.Run();
  for (int64_t id = 1; id <= 4; ++id) EXPECT_TRUE(cluster.executed(id).empty());

  cluster.AllowType(Request::TYPE_PREPARE);
  cluster.Tick(3);
  for (int64_t id = 1; id <= 4; ++id) {
    ASSERT_EQ(cluster.executed(id).size(), 1u) << "replica " << id;
    EXPECT_EQ(cluster.executed(id)[0].second, Batch("a"));
  }
  EXPECT_EQ(cluster.replica(2).view(), 0u) << "a lost message is not a view change";
}

TEST(PbftCatchUpTest, ReplicaCutOffPastSeveralCheckpointsCatchesUpThroughFetch) {
  Cluster cluster(4, SmallWindow());
  cluster.Silence(4);
  ProposeBatches(cluster, "k", 10);
  ASSERT_EQ(cluster.executed(1).size(), 10u);
  EXPECT_GE(cluster.replica(1).stable_checkpoint(), 8u);
  EXPECT_TRUE(cluster.executed(4).empty());

  cluster.Unsilence(4);
  // Replica 4 hears of progress it cannot follow (checkpoints past its window).
  ProposeBatches(cluster, "m", 1);
  cluster.Tick(6);
  ASSERT_EQ(cluster.executed(4).size(), cluster.executed(1).size());
  EXPECT_EQ(cluster.executed(4), cluster.executed(1));
  EXPECT_EQ(cluster.state(4), cluster.state(1));
  EXPECT_GT(cluster.replica(4).fetched_batch_count(), 0u);
  EXPECT_EQ(cluster.replica(4).stable_checkpoint(), cluster.replica(1).stable_checkpoint());

  // Caught up, it takes part in ordering again: with replica 3 silent, 1, 2 and 4 are the
  // quorum.
  cluster.Silence(3);
  ProposeBatches(cluster, "n", 3);
  EXPECT_EQ(cluster.executed(4), cluster.executed(1));
  EXPECT_EQ(cluster.executed(2), cluster.executed(1));
}

TEST(PbftCatchUpTest, OneFetchReplyAloneIsNotTrusted) {
  PbftReplica replica(4, 4, SmallWindow());
  const std::string good = Batch("good");
  const std::string forged = Batch("forged");
  ASSERT_TRUE(replica.Step(FetchReplyFrom(1, 1, {forged})).ok());
  EXPECT_TRUE(replica.TakeActions().execute.empty());
  ASSERT_TRUE(replica.Step(FetchReplyFrom(2, 1, {good})).ok());
  EXPECT_TRUE(replica.TakeActions().execute.empty()) << "one vote each: no f+1 agreement";
  // The same sender cannot vote twice for a seq.
  ASSERT_TRUE(replica.Step(FetchReplyFrom(1, 1, {good})).ok());
  EXPECT_TRUE(replica.TakeActions().execute.empty());
  ASSERT_TRUE(replica.Step(FetchReplyFrom(3, 1, {good})).ok());
  Actions actions = replica.TakeActions();
  ASSERT_EQ(actions.execute.size(), 1u);
  EXPECT_EQ(actions.execute[0].first, 1u);
  EXPECT_EQ(actions.execute[0].second, good);
  EXPECT_EQ(replica.last_executable_seq(), 1u);
}

TEST(PbftCatchUpTest, MalformedFetchRepliesAreRefused) {
  PbftReplica replica(4, 4, SmallWindow());
  Request garbage = FetchReplyFrom(1, 1, {Batch("a")});
  garbage.set_data("\xff\xff not a reply");
  EXPECT_FALSE(replica.Step(garbage).ok());
  Request gap = FetchReplyFrom(1, 1, {Batch("a"), Batch("b")});
  FetchReply reply;
  ASSERT_TRUE(reply.ParseFromString(gap.data()));
  reply.mutable_batches(1)->set_seq(5);
  reply.SerializeToString(gap.mutable_data());
  EXPECT_FALSE(replica.Step(gap).ok());
  Request stranger = FetchReplyFrom(9, 1, {Batch("a")});
  EXPECT_FALSE(replica.Step(stranger).ok());
  EXPECT_TRUE(replica.TakeActions().execute.empty());
}

TEST(PbftCatchUpTest, AFetchIsQueuedForTheCallerToAnswer) {
  PbftReplica replica(2, 4, SmallWindow());
  Request fetch;
  fetch.set_type(Request::TYPE_RECOVERY_DATA);
  fetch.set_sender_id(3);
  fetch.set_seq(5);
  ASSERT_TRUE(replica.Step(fetch).ok());
  ASSERT_TRUE(replica.Step(fetch).ok());
  Actions actions = replica.TakeActions();
  ASSERT_EQ(actions.fetches.size(), 1u) << "one pending answer per peer";
  CommittedBatch batch;
  batch.set_seq(5);
  batch.set_data(Batch("x"));
  Request answer = replica.FetchReply(actions.fetches[0], {batch});
  EXPECT_EQ(answer.type(), Request::TYPE_RECOVERY_DATA_RESP);
  EXPECT_EQ(answer.sender_id(), 2);
  EXPECT_EQ(answer.seq(), 5u);
  FetchReply reply;
  ASSERT_TRUE(reply.ParseFromString(answer.data()));
  EXPECT_EQ(reply.view(), 0u);
  EXPECT_TRUE(reply.view_active());
  ASSERT_EQ(reply.batches_size(), 1);
  EXPECT_EQ(reply.batches(0).data(), Batch("x"));
}

TEST(PbftRestoreTest, RestartedBackupResumesFromItsRecords) {
  Cluster cluster(4, SmallWindow());
  ProposeBatches(cluster, "k", 5);
  cluster.Restart(2);
  EXPECT_EQ(cluster.replica(2).last_executable_seq(), 5u);
  EXPECT_EQ(cluster.replica(2).stable_checkpoint(), cluster.replica(1).stable_checkpoint());
  EXPECT_EQ(cluster.state(2), cluster.state(1));
  // Replica 2 is needed for every quorum now.
  cluster.Silence(3);
  ProposeBatches(cluster, "m", 4);
  EXPECT_EQ(cluster.executed(2), cluster.executed(1));
  EXPECT_EQ(cluster.executed(2).size(), 9u);
}

TEST(PbftRestoreTest, RestartedBackupKeepsItsVoteForAPreparedBatch) {
  Cluster cluster(4, SmallWindow());
  cluster.DropType(Request::TYPE_COMMIT);
  ASSERT_TRUE(cluster.Propose(Batch("a")).ok());
  cluster.Run();
  cluster.Restart(3);
  // The restored replica still holds the pre-prepare and its prepared certificate, so the
  // COMMITs sent again complete the batch everywhere.
  cluster.AllowType(Request::TYPE_COMMIT);
  cluster.Tick(3);
  for (int64_t id = 1; id <= 4; ++id) {
    ASSERT_EQ(cluster.executed(id).size(), 1u) << "replica " << id;
    EXPECT_EQ(cluster.executed(id)[0].second, Batch("a"));
  }
}

TEST(PbftRestoreTest, RestartedOldPrimaryJoinsTheViewTheOthersMovedTo) {
  Cluster cluster(4, SmallWindow());
  ProposeBatches(cluster, "k", 2);
  // Backups hold a pre-prepare that cannot complete while PREPAREs are lost; the primary
  // then dies and the others change view.
  cluster.DropType(Request::TYPE_PREPARE);
  ASSERT_TRUE(cluster.Propose(Batch("stuck")).ok());
  cluster.Run();
  cluster.Silence(1);
  cluster.Tick(SmallWindow().view_change_timeout_ticks + 2);
  cluster.AllowType(Request::TYPE_PREPARE);
  cluster.Tick(4);
  for (int64_t id = 2; id <= 4; ++id) {
    EXPECT_EQ(cluster.replica(id).view(), 1u) << "replica " << id;
    EXPECT_TRUE(cluster.replica(id).view_active()) << "replica " << id;
  }
  ProposeBatches(cluster, "after", 3);

  cluster.Restart(1);
  cluster.Unsilence(1);
  cluster.Tick(4);
  EXPECT_EQ(cluster.replica(1).view(), 1u);
  EXPECT_TRUE(cluster.replica(1).view_active());
  EXPECT_FALSE(cluster.replica(1).is_primary());
  EXPECT_EQ(cluster.executed(1), cluster.executed(2));
  EXPECT_EQ(cluster.state(1), cluster.state(2));

  // And it counts in quorums of the new view.
  cluster.Silence(4);
  ProposeBatches(cluster, "later", 2);
  EXPECT_EQ(cluster.executed(1), cluster.executed(2));
}

TEST(PbftRestoreTest, AReplicaAloneInAViewChangeWaitsInsteadOfRunningAhead) {
  Cluster cluster(4, SmallWindow());
  cluster.Silence(4);
  cluster.DropType(Request::TYPE_COMMIT);
  ASSERT_TRUE(cluster.Propose(Batch("a")).ok());
  cluster.Run();
  // Replica 2 alone times out (the others are not ticked).
  for (int i = 0; i < 40; ++i) cluster.replica(2).Tick();
  EXPECT_EQ(cluster.replica(2).view(), 1u);
  EXPECT_FALSE(cluster.replica(2).view_active());
}

// A VIEWCHANGE for view 1 from `sender` that vouches for nothing above seq 0.
Request EmptyViewChange(int64_t sender) {
  Request message;
  message.set_type(Request::TYPE_VIEWCHANGE);
  message.set_sender_id(sender);
  message.set_view(1);
  message.set_seq(0);
  ViewChange().SerializeToString(message.mutable_data());
  return message;
}

// The VIEWCHANGE among `actions`' broadcasts, parsed; fails the test if there is none.
ViewChange BroadcastViewChange(const Actions& actions) {
  for (const Request& message : actions.broadcast) {
    if (message.type() != Request::TYPE_VIEWCHANGE) continue;
    ViewChange vc;
    EXPECT_TRUE(vc.ParseFromString(message.data()));
    EXPECT_EQ(vc.stable_seq(), message.seq());
    return vc;
  }
  ADD_FAILURE() << "no VIEWCHANGE was broadcast";
  return ViewChange();
}

TEST(PbftRestoreTest, RestartedReplicaStillVouchesForTheBatchesItExecuted) {
  Cluster cluster(4, SmallWindow());
  ProposeBatches(cluster, "k", 1);
  ASSERT_EQ(cluster.executed(2).size(), 1u);
  ASSERT_EQ(cluster.replica(2).stable_checkpoint(), 0u);
  cluster.Restart(2);
  (void)cluster.replica(2).TakeActions();

  // f+1 replicas moving to view 1 take replica 2 along; its VIEWCHANGE must still carry
  // seq 1, which it executed before the restart, or a NEWVIEW could replace it.
  PbftReplica& replica = cluster.replica(2);
  ASSERT_TRUE(replica.Step(EmptyViewChange(3)).ok());
  ASSERT_TRUE(replica.Step(EmptyViewChange(4)).ok());
  ASSERT_EQ(replica.view(), 1u);
  const ViewChange vc = BroadcastViewChange(replica.TakeActions());
  ASSERT_EQ(vc.prepared_size(), 1);
  EXPECT_EQ(vc.prepared(0).seq(), 1u);
  EXPECT_EQ(vc.prepared(0).digest(), BatchDigest(Batch("k1")));
}

TEST(PbftRestoreTest, StableCheckpointOfAViewChangeMatchesTheWatermarks) {
  // Replica 4 learns that checkpoints 2 and 4 are stable before it has released seq 2, then
  // fetches up to 3: its watermarks move to 2, and so must the checkpoint it vouches for.
  PbftReplica replica(4, 4, SmallWindow());
  for (int64_t sender = 1; sender <= 3; ++sender) {
    ASSERT_TRUE(replica.Step(pbft_test::Checkpoint(sender, 2, "state2")).ok());
    ASSERT_TRUE(replica.Step(pbft_test::Checkpoint(sender, 4, "state4")).ok());
  }
  const std::vector<std::string> batches = {Batch("a"), Batch("b"), Batch("c")};
  ASSERT_TRUE(replica.Step(FetchReplyFrom(1, 1, batches)).ok());
  ASSERT_TRUE(replica.Step(FetchReplyFrom(2, 1, batches)).ok());
  ASSERT_EQ(replica.last_executable_seq(), 3u);
  ASSERT_EQ(replica.low_watermark(), 2u);
  (void)replica.TakeActions();

  ASSERT_TRUE(replica.Step(EmptyViewChange(2)).ok());
  ASSERT_TRUE(replica.Step(EmptyViewChange(3)).ok());
  ASSERT_EQ(replica.view(), 1u);
  const ViewChange vc = BroadcastViewChange(replica.TakeActions());
  EXPECT_EQ(vc.stable_seq(), 2u);
  EXPECT_EQ(vc.stable_digest(), "state2");
  EXPECT_EQ(vc.checkpoints_size(), 3);
}

// The evidence of a prepared certificate is part of the slot record: after a restart the
// replica's VIEWCHANGE still proves, with the others' signatures, what it prepared, and the
// next primary takes it.
TEST(PbftRestoreTest, RestartedReplicasViewChangeStillProvesItsCertificates) {
  FakeReplicaKeys keys;
  PbftReplicaOptions options = SmallWindow();
  options.verify_signature = keys.Checker();
  PbftReplica backup(3, 4, options);
  const std::string a = Batch("a");
  const Request pre_prepare = pbft_test::PrePrepare(1, 0, 1, a);
  const Request prepare = pbft_test::Vote(Request::TYPE_PREPARE, 2, 1, a);
  ASSERT_TRUE(backup.Step(pre_prepare, keys.SignedBySender(pre_prepare)).ok());
  ASSERT_TRUE(backup.Step(prepare, keys.SignedBySender(prepare)).ok());
  RestoredState restored;
  for (const SlotRecord& record : backup.TakeActions().slots) {
    if (!restored.slots.empty() && restored.slots.back().batch().seq() == record.batch().seq()) {
      restored.slots.back() = record;  // the latest per seq wins
    } else {
      restored.slots.push_back(record);
    }
  }
  ASSERT_EQ(restored.slots.size(), 1u);
  ASSERT_TRUE(restored.slots[0].has_certificate());

  PbftReplica restarted(3, 4, options);
  restarted.Restore(restored);
  for (int i = 0; i < 20 && restarted.view() == 0; ++i) restarted.Tick();
  ASSERT_EQ(restarted.view(), 1u);
  Request vc_message;
  for (const Request& message : restarted.TakeActions().broadcast) {
    if (message.type() == Request::TYPE_VIEWCHANGE) vc_message = message;
  }
  ViewChange vc;
  ASSERT_TRUE(vc.ParseFromString(vc_message.data()));
  ASSERT_EQ(vc.prepared_size(), 1);
  EXPECT_TRUE(CheckPreparedCertificate(vc.prepared(0), 3, 4, keys.Checker()).ok());

  PbftReplica next(2, 4, options);
  EXPECT_TRUE(next.Step(vc_message).ok());
}

TEST(PbftRestoreTest, RestartedNewPrimarySendsItsNewViewAgain) {
  Cluster cluster(4, SmallWindow());
  ProposeBatches(cluster, "k", 1);
  // Backups hold a pre-prepare that cannot complete; the primary dies and they change view.
  cluster.DropType(Request::TYPE_PREPARE);
  ASSERT_TRUE(cluster.Propose(Batch("stuck")).ok());
  cluster.Run();
  cluster.Silence(1);
  cluster.Tick(SmallWindow().view_change_timeout_ticks + 2);
  cluster.AllowType(Request::TYPE_PREPARE);
  cluster.Tick(4);
  ASSERT_EQ(cluster.replica(2).view(), 1u);
  ASSERT_TRUE(cluster.replica(2).is_primary());
  ASSERT_TRUE(cluster.replica(2).view_active());

  cluster.Restart(2);
  (void)cluster.replica(2).TakeActions();
  // Replica 1 comes back and asks for view 1: the restarted primary answers with its NEWVIEW.
  Request vc = EmptyViewChange(1);
  ASSERT_TRUE(cluster.replica(2).Step(vc).ok());
  const Actions actions = cluster.replica(2).TakeActions();
  ASSERT_EQ(actions.send.size(), 1u);
  EXPECT_EQ(actions.send[0].first, 1);
  EXPECT_EQ(actions.send[0].second.type(), Request::TYPE_NEWVIEW);
  EXPECT_EQ(actions.send[0].second.view(), 1u);
}

TEST(PbftCatchUpTest, ReplicaKeepsFetchingUntilPastWhatItRefused) {
  const PbftReplicaOptions options = SmallWindow();
  PbftReplica replica(4, 4, options);
  // Votes for seq 6, above the high watermark 4, from f+1 and more replicas: refused, but
  // they show that the others are ahead.
  for (int64_t sender = 1; sender <= 3; ++sender) {
    EXPECT_FALSE(replica.Step(pbft_test::Vote(Request::TYPE_COMMIT, sender, 6, Batch("f"))).ok());
  }
  // A FETCH round brings it to 5 only (what the replies held when they were sent).
  std::vector<std::string> batches;
  for (int i = 1; i <= 5; ++i) batches.push_back(Batch(absl::StrCat("k", i)));
  ASSERT_TRUE(replica.Step(FetchReplyFrom(1, 1, batches)).ok());
  ASSERT_TRUE(replica.Step(FetchReplyFrom(2, 1, batches)).ok());
  ASSERT_EQ(replica.last_executable_seq(), 5u);
  (void)replica.TakeActions();

  // Nothing else is outstanding, yet seq 6 is missing: it asks again.
  uint64_t fetch_from = 0;
  for (uint64_t i = 0; i <= options.retransmit_ticks + 1 && fetch_from == 0; ++i) {
    replica.Tick();
    for (const Request& message : replica.TakeActions().broadcast) {
      if (message.type() == Request::TYPE_RECOVERY_DATA) fetch_from = message.seq();
    }
  }
  EXPECT_EQ(fetch_from, 6u);
}

TEST(PbftViewChangeTimerTest, WaitingClientRequestsStartTheTimerWithoutAPrePrepare) {
  PbftReplicaOptions options = SmallWindow();
  PbftReplica backup(2, 4, options);
  for (uint64_t i = 0; i < options.view_change_timeout_ticks + 2; ++i) backup.Tick(false);
  EXPECT_EQ(backup.view(), 0u) << "nothing is waiting: no reason to blame the primary";
  for (uint64_t i = 0; i < options.view_change_timeout_ticks; ++i) backup.Tick(true);
  EXPECT_EQ(backup.view(), 1u);
  EXPECT_FALSE(backup.view_active());
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
