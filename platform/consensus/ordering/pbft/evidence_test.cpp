#include "platform/consensus/ordering/pbft/evidence.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/consensus/ordering/pbft/testing/fake_replica_keys.h"
#include "platform/consensus/ordering/pbft/testing/pbft_test_cluster.h"

namespace resdb {
namespace pbft {
namespace {

using pbft_test::Batch;
using pbft_test::ViewChangeMessage;

// n = 4, f = 1: a certificate needs 2 PREPAREs counting the holder's own.
constexpr int kReplicas = 4;

Request Message(Request::Type type, int64_t sender, uint64_t view, uint64_t seq,
                const std::string& data) {
  Request m;
  m.set_type(type);
  m.set_sender_id(sender);
  m.set_view(view);
  m.set_seq(seq);
  m.set_hash(BatchDigest(data));
  if (type == Request::TYPE_PRE_PREPARE) m.set_data(data);
  return m;
}

// A certificate for (seq, view, data) whose PRE_PREPARE and PREPAREs (of `senders`) are
// signed with the key of `signer`, or each by its sender when `signer` is 0.
PreparedCertificate Cert(const FakeReplicaKeys& keys, uint64_t seq, uint64_t view,
                         const std::string& data, const std::vector<int64_t>& senders,
                         int64_t signer = 0) {
  PreparedCertificate cert;
  cert.set_seq(seq);
  cert.set_view(view);
  cert.set_digest(BatchDigest(data));
  cert.set_data(data);
  const Request pre_prepare = Message(
      Request::TYPE_PRE_PREPARE, MessageValidator::PrimaryOf(view, kReplicas), view, seq, data);
  *cert.mutable_pre_prepare() =
      keys.SignAs(signer == 0 ? pre_prepare.sender_id() : signer, pre_prepare);
  for (int64_t sender : senders) {
    const Request prepare = Message(Request::TYPE_PREPARE, sender, view, seq, data);
    *cert.add_prepares() = keys.SignAs(signer == 0 ? sender : signer, prepare);
  }
  return cert;
}

TEST(PreparedCertificateTest, SignedPrePrepareAndPreparesWithTheHoldersOwnAreAccepted) {
  FakeReplicaKeys keys;
  // View 0 is led by replica 1; holder 2 and replica 3 prepared.
  EXPECT_TRUE(
      CheckPreparedCertificate(Cert(keys, 1, 0, Batch("a"), {3}), 2, kReplicas, keys.Checker())
          .ok());
  // The primary holds one with the PREPAREs of two backups.
  EXPECT_TRUE(
      CheckPreparedCertificate(Cert(keys, 1, 0, Batch("a"), {2, 3}), 1, kReplicas, keys.Checker())
          .ok());
}

TEST(PreparedCertificateTest, PreparesSignedByTheHolderInOthersNamesAreRefused) {
  FakeReplicaKeys keys;
  EXPECT_EQ(CheckPreparedCertificate(Cert(keys, 1, 0, Batch("a"), {3}, /*signer=*/2), 2, kReplicas,
                                     keys.Checker())
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A forged PRE_PREPARE alone spoils the certificate too.
  PreparedCertificate cert = Cert(keys, 1, 0, Batch("a"), {3});
  const Request pre_prepare = Message(Request::TYPE_PRE_PREPARE, 1, 0, 1, Batch("a"));
  *cert.mutable_pre_prepare() = keys.SignAs(2, pre_prepare);
  EXPECT_FALSE(CheckPreparedCertificate(cert, 2, kReplicas, keys.Checker()).ok());
}

TEST(PreparedCertificateTest, PreparesMustBeDistinctMatchingAndNotThePrimarys) {
  FakeReplicaKeys keys;
  const std::string a = Batch("a");
  // The holder alone is one PREPARE short, and so is the primary's own or a repeat.
  EXPECT_FALSE(
      CheckPreparedCertificate(Cert(keys, 1, 0, a, {}), 2, kReplicas, keys.Checker()).ok());
  EXPECT_FALSE(
      CheckPreparedCertificate(Cert(keys, 1, 0, a, {1}), 2, kReplicas, keys.Checker()).ok());
  EXPECT_FALSE(
      CheckPreparedCertificate(Cert(keys, 1, 0, a, {3, 3}), 1, kReplicas, keys.Checker()).ok());
  // A PREPARE for another digest or seq.
  PreparedCertificate cert = Cert(keys, 1, 0, a, {3});
  *cert.mutable_prepares(0) =
      keys.SignedBySender(Message(Request::TYPE_PREPARE, 3, 0, 1, Batch("b")));
  EXPECT_FALSE(CheckPreparedCertificate(cert, 2, kReplicas, keys.Checker()).ok());
  cert = Cert(keys, 1, 0, a, {3});
  *cert.mutable_prepares(0) = keys.SignedBySender(Message(Request::TYPE_PREPARE, 3, 0, 2, a));
  EXPECT_FALSE(CheckPreparedCertificate(cert, 2, kReplicas, keys.Checker()).ok());
  // Data that is not the batch the digest names.
  cert = Cert(keys, 1, 0, a, {3});
  cert.set_data(Batch("b"));
  EXPECT_FALSE(CheckPreparedCertificate(cert, 2, kReplicas, keys.Checker()).ok());
}

TEST(PreparedCertificateTest, WithoutAVerifierSignaturesAreNotLookedAt) {
  FakeReplicaKeys keys;
  // Plaintext clusters: consistent evidence passes whoever signed it...
  EXPECT_TRUE(
      CheckPreparedCertificate(Cert(keys, 1, 0, Batch("a"), {3}, 2), 2, kReplicas, nullptr).ok());
  // ...and inconsistent evidence does not.
  EXPECT_FALSE(
      CheckPreparedCertificate(Cert(keys, 1, 0, Batch("a"), {1}, 2), 2, kReplicas, nullptr).ok());
}

std::optional<NewView> SentNewView(const Actions& actions) {
  for (const Request& m : actions.broadcast) {
    NewView nv;
    if (m.type() == Request::TYPE_NEWVIEW && nv.ParseFromString(m.data())) return nv;
  }
  return std::nullopt;
}

// Replica 2 holds the certificate of batch `a` at seq 1 (view 0) and replica 1 nothing; once
// both ask for view 2, `next` (replica 3, its primary) must re-propose exactly `a` at seq 1.
void ExpectNewViewReproposes(const FakeReplicaKeys& keys, PbftReplica& next, const std::string& a) {
  ASSERT_TRUE(next.Step(ViewChangeMessage(2, 2, {Cert(keys, 1, 0, a, {3})})).ok());
  ASSERT_TRUE(next.Step(ViewChangeMessage(1, 2, {})).ok());

  ASSERT_TRUE(next.is_primary());
  ASSERT_TRUE(next.view_active());
  EXPECT_EQ(next.view(), 2u);
  std::optional<NewView> nv = SentNewView(next.TakeActions());
  ASSERT_TRUE(nv.has_value());
  ASSERT_EQ(nv->pre_prepares_size(), 1);
  Request reproposal;
  ASSERT_TRUE(reproposal.ParseFromString(nv->pre_prepares(0)));
  EXPECT_EQ(reproposal.seq(), 1u);
  EXPECT_EQ(reproposal.hash(), BatchDigest(a));
}

// Batch a committed at seq 1 in view 0 (replica 2 holds its certificate). Byzantine replica 4
// claims a certificate for batch b at seq 1 in view 1, higher than any genuine one, with
// PREPAREs it signed in replicas 1's and 3's names. Replica 3, primary of view 2, refuses that
// VIEWCHANGE and re-proposes a.
TEST(PbftForgedEvidenceTest, ForgedCertificateAtAHigherViewDoesNotReplaceTheCommittedBatch) {
  FakeReplicaKeys keys;
  PbftReplicaOptions options;
  options.verify_signature = keys.Checker();
  PbftReplica next(3, kReplicas, options);
  const std::string a = Batch("a");
  const std::string b = Batch("b");

  EXPECT_EQ(next.Step(ViewChangeMessage(4, 2, {Cert(keys, 1, 1, b, {1, 3}, /*signer=*/4)})).code(),
            absl::StatusCode::kInvalidArgument);
  ExpectNewViewReproposes(keys, next, a);
}

Request NewViewMessage(int64_t primary, uint64_t view, const std::vector<SignedMessage>& vcs) {
  NewView nv;
  for (const SignedMessage& vc : vcs) *nv.add_view_changes() = vc;
  Request m;
  m.set_type(Request::TYPE_NEWVIEW);
  m.set_sender_id(primary);
  m.set_view(view);
  nv.SerializeToString(m.mutable_data());
  return m;
}

// Replica 2, primary of view 1, claims that replicas 1 and 4 asked for view 1 (with nothing
// prepared), signing their VIEWCHANGEs itself. Backup 3 refuses that NEWVIEW and enters the
// view only with one whose VIEWCHANGEs their senders signed.
TEST(PbftForgedEvidenceTest, NewViewWithViewChangesItsPrimarySignedForOthersIsRefused) {
  FakeReplicaKeys keys;
  PbftReplicaOptions options;
  options.verify_signature = keys.Checker();
  PbftReplica backup(3, kReplicas, options);
  SignedMessage own;
  ViewChangeMessage(2, 1, {}).SerializeToString(own.mutable_data());
  own.set_signer(2);

  const Request forged = NewViewMessage(2, 1,
                                        {own, keys.SignAs(2, ViewChangeMessage(1, 1, {})),
                                         keys.SignAs(2, ViewChangeMessage(4, 1, {}))});
  EXPECT_EQ(backup.Step(forged).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backup.view(), 0u);

  const Request genuine = NewViewMessage(2, 1,
                                         {own, keys.SignedBySender(ViewChangeMessage(1, 1, {})),
                                          keys.SignedBySender(ViewChangeMessage(4, 1, {}))});
  ASSERT_TRUE(backup.Step(genuine).ok());
  EXPECT_EQ(backup.view(), 1u);
  EXPECT_TRUE(backup.view_active());
}

// The primary's own VIEWCHANGE is covered by the NEWVIEW; another replica's is not, even
// unsigned in the primary's name, and one sender counts once.
TEST(PbftForgedEvidenceTest, NewViewNeedsAQuorumOfDistinctSignedViewChanges) {
  FakeReplicaKeys keys;
  PbftReplicaOptions options;
  options.verify_signature = keys.Checker();
  PbftReplica backup(3, kReplicas, options);
  SignedMessage unsigned_other;
  ViewChangeMessage(1, 1, {}).SerializeToString(unsigned_other.mutable_data());
  unsigned_other.set_signer(1);
  const SignedMessage signed_one = keys.SignedBySender(ViewChangeMessage(1, 1, {}));
  const SignedMessage signed_four = keys.SignedBySender(ViewChangeMessage(4, 1, {}));
  SignedMessage own;
  ViewChangeMessage(2, 1, {}).SerializeToString(own.mutable_data());
  own.set_signer(2);
  EXPECT_FALSE(backup.Step(NewViewMessage(2, 1, {own, signed_one, signed_one})).ok());
  EXPECT_FALSE(backup.Step(NewViewMessage(2, 1, {own, signed_one})).ok());
  EXPECT_FALSE(backup.Step(NewViewMessage(2, 1, {own, unsigned_other, signed_four})).ok());
  EXPECT_EQ(backup.view(), 0u);
}

// A proof that (seq, state) is stable, with the CHECKPOINTs of `senders`, each signed with the
// key of `signer`, or by its sender when `signer` is 0.
StableCheckpoint Proof(const FakeReplicaKeys& keys, uint64_t seq, const std::string& state,
                       const std::vector<int64_t>& senders, int64_t signer = 0) {
  StableCheckpoint proof;
  proof.set_seq(seq);
  proof.set_digest(state);
  for (int64_t sender : senders) {
    *proof.add_checkpoints() =
        keys.SignAs(signer == 0 ? sender : signer, pbft_test::Checkpoint(sender, seq, state));
  }
  return proof;
}

constexpr uint64_t kInterval = 2;

// A replica that checks evidence with `keys`, taking a checkpoint every kInterval seqs.
PbftReplicaOptions CheckingOptions(const FakeReplicaKeys& keys) {
  PbftReplicaOptions options;
  options.checkpoint_interval = kInterval;
  options.verify_signature = keys.Checker();
  return options;
}

TEST(StableCheckpointProofTest, TwoFPlusOneSignedMatchingCheckpointsProveIt) {
  FakeReplicaKeys keys;
  EXPECT_TRUE(
      CheckStableCheckpoint(Proof(keys, 4, "s", {1, 2, 4}), kReplicas, kInterval, keys.Checker())
          .ok());
  // The genesis needs no proof.
  EXPECT_TRUE(CheckStableCheckpoint(StableCheckpoint(), kReplicas, kInterval, keys.Checker()).ok());
}

TEST(StableCheckpointProofTest, ForgedShortOrInconsistentProofsAreRefused) {
  FakeReplicaKeys keys;
  const SignatureCheck verify = keys.Checker();
  // Replica 4 signs CHECKPOINTs in 1's and 2's names.
  EXPECT_FALSE(CheckStableCheckpoint(Proof(keys, 4, "s", {1, 2, 4}, /*signer=*/4), kReplicas,
                                     kInterval, verify)
                   .ok());
  EXPECT_FALSE(
      CheckStableCheckpoint(Proof(keys, 4, "s", {1, 2}), kReplicas, kInterval, verify).ok());
  EXPECT_FALSE(
      CheckStableCheckpoint(Proof(keys, 4, "s", {1, 2, 2}), kReplicas, kInterval, verify).ok());
  // A quorum for another state, or another seq, proves nothing about this one.
  StableCheckpoint other_state = Proof(keys, 4, "s", {1, 2, 4});
  *other_state.mutable_checkpoints(2) = keys.SignedBySender(pbft_test::Checkpoint(4, 4, "t"));
  EXPECT_FALSE(CheckStableCheckpoint(other_state, kReplicas, kInterval, verify).ok());
  StableCheckpoint other_seq = Proof(keys, 6, "s", {1, 2, 4});
  other_seq.set_seq(4);
  EXPECT_FALSE(CheckStableCheckpoint(other_seq, kReplicas, kInterval, verify).ok());
  EXPECT_FALSE(
      CheckStableCheckpoint(Proof(keys, 3, "s", {1, 2, 4}), kReplicas, kInterval, verify).ok());
  // Plaintext clusters: consistent proofs pass whoever signed them.
  EXPECT_TRUE(CheckStableCheckpoint(Proof(keys, 4, "s", {1, 2, 4}, /*signer=*/4), kReplicas,
                                    kInterval, nullptr)
                  .ok());
}

// Batch a is prepared at seq 1 (replica 2 holds its certificate). Byzantine replica 4 claims
// that seq 2 is a stable checkpoint, with CHECKPOINTs it signed in 1's and 2's names: taken at
// face value, the next primary would re-propose nothing at or below seq 2 and a could be lost.
// Replica 3, primary of view 2, refuses that VIEWCHANGE and re-proposes a.
TEST(PbftForgedEvidenceTest, ForgedStableCheckpointDoesNotMakeTheNewPrimarySkipABatch) {
  FakeReplicaKeys keys;
  const PbftReplicaOptions options = CheckingOptions(keys);
  PbftReplica next(3, kReplicas, options);
  const std::string a = Batch("a");

  auto with_stable = [](Request message, const StableCheckpoint& proof) {
    ViewChange vc;
    vc.ParseFromString(message.data());
    vc.set_stable_seq(proof.seq());
    vc.set_stable_digest(proof.digest());
    *vc.mutable_checkpoints() = proof.checkpoints();
    vc.SerializeToString(message.mutable_data());
    message.set_seq(proof.seq());
    return message;
  };
  EXPECT_EQ(next.Step(with_stable(ViewChangeMessage(4, 2, {}),
                                  Proof(keys, 2, "x", {1, 2, 4}, /*signer=*/4)))
                .code(),
            absl::StatusCode::kInvalidArgument);
  ExpectNewViewReproposes(keys, next, a);

  // A genuine proof is taken: a VIEWCHANGE from its stable checkpoint on.
  PbftReplica other(3, kReplicas, options);
  EXPECT_TRUE(
      other.Step(with_stable(ViewChangeMessage(4, 2, {}), Proof(keys, 2, "x", {1, 2, 4}))).ok());
}

// The bounds hold for a full window of certificates with the largest fields a replica sends:
// 2f signed PREPAREs each, ids, views and seqs near their limits, Ed25519-sized signatures.
TEST(ViewChangeSizeTest, FullWindowStaysWithinTheBounds) {
  constexpr int n = 7;
  constexpr uint64_t kWindow = 50;
  constexpr uint64_t kLarge = uint64_t{1} << 62;
  const std::string signature(64, 's');
  auto signed_vote = [&](Request::Type type, int64_t sender, uint64_t seq) {
    Request vote;
    vote.set_type(type);
    vote.set_sender_id(sender);
    vote.set_view(kLarge);
    vote.set_seq(seq);
    vote.set_hash(std::string(32, 'd'));
    SignedMessage envelope;
    vote.SerializeToString(envelope.mutable_data());
    envelope.set_signer(sender);
    envelope.set_signature(signature);
    return envelope;
  };
  ViewChange vc;
  vc.set_stable_seq(kLarge);
  vc.set_stable_digest(std::string(32, 'd'));
  for (int64_t sender = 1; sender <= 5; ++sender) {
    *vc.add_checkpoints() = signed_vote(Request::TYPE_CHECKPOINT, sender, kLarge);
  }
  for (uint64_t i = 1; i <= kWindow; ++i) {
    PreparedCertificate* cert = vc.add_prepared();
    cert->set_seq(kLarge + i);
    cert->set_view(kLarge);
    cert->set_digest(std::string(32, 'd'));
    for (int64_t sender = 2; sender <= 5; ++sender) {
      *cert->add_prepares() = signed_vote(Request::TYPE_PREPARE, sender, kLarge + i);
    }
  }
  Request vc_message;
  vc_message.set_type(Request::TYPE_VIEWCHANGE);
  vc_message.set_sender_id(n);
  vc_message.set_view(kLarge + 1);
  vc_message.set_seq(kLarge);
  vc.SerializeToString(vc_message.mutable_data());
  EXPECT_LE(static_cast<int64_t>(vc_message.ByteSizeLong()), MaxViewChangeBytes(n, kWindow));

  NewView nv;
  for (int64_t sender = 1; sender <= 5; ++sender) {
    SignedMessage* envelope = nv.add_view_changes();
    vc_message.SerializeToString(envelope->mutable_data());
    envelope->set_signer(sender);
    envelope->set_signature(signature);
  }
  for (uint64_t i = 1; i <= kWindow; ++i) {
    Request pre_prepare;
    pre_prepare.set_type(Request::TYPE_PRE_PREPARE);
    pre_prepare.set_sender_id(n);
    pre_prepare.set_view(kLarge + 1);
    pre_prepare.set_seq(kLarge + i);
    pre_prepare.set_hash(std::string(32, 'd'));
    *nv.add_pre_prepares() = pre_prepare.SerializeAsString();
  }
  Request nv_message = vc_message;
  nv_message.set_type(Request::TYPE_NEWVIEW);
  nv.SerializeToString(nv_message.mutable_data());
  EXPECT_LE(static_cast<int64_t>(nv_message.ByteSizeLong()), MaxNewViewBytes(n, kWindow));
  // Tight enough to mean something.
  EXPECT_GE(static_cast<int64_t>(nv_message.ByteSizeLong()) * 2, MaxNewViewBytes(n, kWindow));
}

Request FetchReplyWithStable(int64_t sender, const std::vector<std::string>& batches,
                             const StableCheckpoint& stable) {
  FetchReply reply;
  reply.set_last_committed(batches.size());
  *reply.mutable_stable() = stable;
  for (size_t i = 0; i < batches.size(); ++i) {
    CommittedBatch* batch = reply.add_batches();
    batch->set_seq(i + 1);
    batch->set_data(batches[i]);
  }
  Request message;
  message.set_type(Request::TYPE_RECOVERY_DATA_RESP);
  message.set_sender_id(sender);
  message.set_seq(1);
  reply.SerializeToString(message.mutable_data());
  return message;
}

// A replica catching up takes a stable checkpoint from one FETCH reply only when its signed
// CHECKPOINTs prove it, and then relays that proof in its own VIEWCHANGE.
TEST(PbftForgedEvidenceTest, CatchingUpTakesOnlyAProvenStableCheckpoint) {
  FakeReplicaKeys keys;
  PbftReplica replica(3, kReplicas, CheckingOptions(keys));
  const std::vector<std::string> batches = {Batch("a"), Batch("b"), Batch("c")};
  // Two replies agree on the batches, so they are released; replica 1's stable checkpoint is
  // forged.
  ASSERT_TRUE(
      replica.Step(FetchReplyWithStable(1, batches, Proof(keys, 2, "x", {1, 2, 4}, /*signer=*/1)))
          .ok());
  ASSERT_TRUE(replica.Step(FetchReplyWithStable(2, batches, StableCheckpoint())).ok());
  ASSERT_EQ(replica.last_executable_seq(), 3u);
  EXPECT_EQ(replica.low_watermark(), 0u);

  const StableCheckpoint genuine = Proof(keys, 2, "x", {1, 2, 4});
  ASSERT_TRUE(replica.Step(FetchReplyWithStable(4, batches, genuine)).ok());
  EXPECT_EQ(replica.low_watermark(), 2u);
  EXPECT_EQ(replica.stable_checkpoint_proof().SerializeAsString(), genuine.SerializeAsString());
}

}  // namespace
}  // namespace pbft
}  // namespace resdb
