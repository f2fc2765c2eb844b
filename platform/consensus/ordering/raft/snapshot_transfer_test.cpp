#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/snapshot_receiver.h"
#include "platform/consensus/ordering/raft/snapshot_sender.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace raft {
namespace {

using Clock = SnapshotSender::Clock;
using Outcome = SnapshotSender::Outcome;
using std::chrono::milliseconds;

constexpr int64_t kLeader = 1;
constexpr int64_t kFollower = 2;
constexpr uint64_t kTerm = 3;
const std::string kData = "0123456789";  // three chunks of 4, 4 and 2 bytes

class SnapshotTransferTest : public testing::Test {
 protected:
  void SetUp() override {
    leader_storage_ = NewMemoryStorage();
    follower_storage_ = NewMemoryStorage();
    leader_snapshots_ = *RaftSnapshotManager::Open(leader_storage_.get(), 4);
    follower_snapshots_ = *RaftSnapshotManager::Open(follower_storage_.get(), 4);
    SnapshotMetadata metadata;
    metadata.set_last_included_index(5);
    metadata.set_last_included_term(2);
    ASSERT_TRUE(leader_snapshots_->Save(metadata, kData).ok());
    SnapshotSender::Options options;
    options.self_id = kLeader;
    options.chunk_bytes = 4;
    options.resend = milliseconds(100);
    options.install_patience = milliseconds(1000);
    sender_ = std::make_unique<SnapshotSender>(options, leader_snapshots_.get(),
                                               [this](int64_t to, InstallSnapshotRequest request) {
                                                 sent_.emplace_back(to, std::move(request));
                                               });
    receiver_ = std::make_unique<SnapshotReceiver>(kFollower, follower_snapshots_.get());
  }

  // The follower's node as a follower of kLeader in kTerm.
  static SnapshotReceiver::NodeView Following(uint64_t commit_index = 0) {
    SnapshotReceiver::NodeView view;
    view.term = kTerm;
    view.leader_id = kLeader;
    view.commit_index = commit_index;
    return view;
  }

  std::vector<std::pair<int64_t, InstallSnapshotRequest>> TakeSent() {
    std::vector<std::pair<int64_t, InstallSnapshotRequest>> sent;
    sent.swap(sent_);
    return sent;
  }

  std::unique_ptr<Storage> leader_storage_;
  std::unique_ptr<Storage> follower_storage_;
  std::unique_ptr<RaftSnapshotManager> leader_snapshots_;
  std::unique_ptr<RaftSnapshotManager> follower_snapshots_;
  std::unique_ptr<SnapshotSender> sender_;
  std::unique_ptr<SnapshotReceiver> receiver_;
  std::vector<std::pair<int64_t, InstallSnapshotRequest>> sent_;
  const Clock::time_point t0_ = Clock::now();
};

TEST_F(SnapshotTransferTest, ChunksFlowOneAtATimeUntilTheFollowerInstalls) {
  sender_->Tick(kTerm, {kFollower}, t0_);
  Clock::time_point now = t0_;
  bool installed = false;
  for (int round = 0; round < 10 && !installed; ++round) {
    auto sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u) << "round " << round;
    EXPECT_EQ(sent[0].first, kFollower);
    EXPECT_EQ(sent[0].second.term(), kTerm);
    EXPECT_EQ(sent[0].second.leader_id(), kLeader);
    // One chunk in flight: a tick before the resend time sends nothing more.
    sender_->Tick(kTerm, {kFollower}, now + milliseconds(10));
    EXPECT_TRUE(sent_.empty());

    SnapshotReceiver::Step step = receiver_->OnChunk(kLeader, sent[0].second, Following());
    ASSERT_FALSE(step.answer.rejected());
    InstallSnapshotResponse answer = step.answer;
    if (step.install) {
      ASSERT_TRUE(follower_snapshots_->FinishIncoming().ok());
      EXPECT_EQ(sender_->OnResponse(kTerm, kFollower, answer, now), Outcome::kAwaitingInstall);
      EXPECT_TRUE(sent_.empty());
      answer = SnapshotReceiver::AfterInstall(answer, kTerm, /*installed=*/true);
      EXPECT_EQ(sender_->OnResponse(kTerm, kFollower, answer, now), Outcome::kInstalled);
      installed = true;
    } else {
      EXPECT_EQ(sender_->OnResponse(kTerm, kFollower, answer, now), Outcome::kNextChunkSent);
    }
  }
  ASSERT_TRUE(installed);
  EXPECT_EQ(*follower_snapshots_->ReadAll(), kData);
  EXPECT_EQ(follower_snapshots_->Current()->last_included_index(), 5u);
  EXPECT_EQ(sender_->transfers(), 0u);
}

TEST_F(SnapshotTransferTest, AnUnansweredChunkIsSentAgainAfterTheResendTime) {
  sender_->Tick(kTerm, {kFollower}, t0_);
  ASSERT_EQ(TakeSent().size(), 1u);
  sender_->Tick(kTerm, {kFollower}, t0_ + milliseconds(99));
  EXPECT_TRUE(sent_.empty());
  sender_->Tick(kTerm, {kFollower}, t0_ + milliseconds(100));
  auto sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].second.chunk().offset(), 0u);
}

TEST_F(SnapshotTransferTest, AFollowerInstallingGetsTheLongerPatience) {
  sender_->Tick(kTerm, {kFollower}, t0_);
  TakeSent();
  InstallSnapshotResponse all;
  all.set_last_included_index(5);
  all.set_next_offset(kData.size());
  EXPECT_EQ(sender_->OnResponse(kTerm, kFollower, all, t0_), Outcome::kAwaitingInstall);
  sender_->Tick(kTerm, {kFollower}, t0_ + milliseconds(500));
  EXPECT_TRUE(sent_.empty());
  sender_->Tick(kTerm, {kFollower}, t0_ + milliseconds(1000));
  EXPECT_EQ(TakeSent().size(), 1u);
}

TEST_F(SnapshotTransferTest, RefusalsStaleAnswersAndFollowersNoLongerNeedingIt) {
  sender_->Tick(kTerm, {kFollower, 3}, t0_);
  EXPECT_EQ(TakeSent().size(), 2u);
  InstallSnapshotResponse other;
  other.set_last_included_index(4);  // about another snapshot
  EXPECT_EQ(sender_->OnResponse(kTerm, kFollower, other, t0_), Outcome::kIgnored);
  InstallSnapshotResponse refused;
  refused.set_last_included_index(5);
  refused.set_rejected(true);
  EXPECT_EQ(sender_->OnResponse(kTerm, kFollower, refused, t0_), Outcome::kRejected);
  EXPECT_EQ(sender_->OnResponse(kTerm, kFollower, refused, t0_), Outcome::kIgnored);
  sender_->Tick(kTerm, {}, t0_);  // replica 3 caught up another way
  EXPECT_EQ(sender_->transfers(), 0u);
}

TEST_F(SnapshotTransferTest, TheReceiverTakesChunksOnlyFromTheLeaderOfItsTerm) {
  sender_->Tick(kTerm, {kFollower}, t0_);
  const InstallSnapshotRequest request = TakeSent()[0].second;

  SnapshotReceiver::NodeView other_leader = Following();
  other_leader.leader_id = 3;
  EXPECT_TRUE(receiver_->OnChunk(kLeader, request, other_leader).answer.rejected());
  SnapshotReceiver::NodeView later_term = Following();
  later_term.term = kTerm + 1;
  EXPECT_TRUE(receiver_->OnChunk(kLeader, request, later_term).answer.rejected());
  SnapshotReceiver::NodeView leading = Following();
  leading.leading = true;
  EXPECT_TRUE(receiver_->OnChunk(kLeader, request, leading).answer.rejected());
  InstallSnapshotRequest forged = request;
  forged.mutable_metadata()->set_last_included_term(kTerm + 1);
  EXPECT_TRUE(receiver_->OnChunk(kLeader, forged, Following()).answer.rejected());
  EXPECT_FALSE(follower_snapshots_->Incoming().has_value());
}

TEST_F(SnapshotTransferTest, TheReceiverAnswersDoneForWhatItCommittedAlready) {
  sender_->Tick(kTerm, {kFollower}, t0_);
  const SnapshotReceiver::Step step =
      receiver_->OnChunk(kLeader, TakeSent()[0].second, Following(/*commit_index=*/5));
  EXPECT_TRUE(step.answer.done());
  EXPECT_FALSE(step.install);
  EXPECT_FALSE(follower_snapshots_->Incoming().has_value());
}

TEST_F(SnapshotTransferTest, OutOfOrderChunksResumeAndBadChunksAbort) {
  sender_->Tick(kTerm, {kFollower}, t0_);
  InstallSnapshotRequest first = TakeSent()[0].second;
  InstallSnapshotRequest skipped = first;
  skipped.mutable_chunk()->set_offset(4);
  SnapshotReceiver::Step step = receiver_->OnChunk(kLeader, skipped, Following());
  EXPECT_FALSE(step.answer.rejected());
  EXPECT_EQ(step.answer.next_offset(), 0u);

  step = receiver_->OnChunk(kLeader, first, Following());
  EXPECT_EQ(step.answer.next_offset(), 4u);
  InstallSnapshotRequest too_long = first;
  too_long.mutable_chunk()->set_offset(4);
  too_long.mutable_chunk()->set_data(std::string(20, 'x'));
  step = receiver_->OnChunk(kLeader, too_long, Following());
  EXPECT_TRUE(step.answer.rejected());
  EXPECT_FALSE(follower_snapshots_->Incoming().has_value());
}

}  // namespace
}  // namespace raft
}  // namespace resdb
