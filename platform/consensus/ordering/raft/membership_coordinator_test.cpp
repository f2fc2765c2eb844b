#include "platform/consensus/ordering/raft/membership_coordinator.h"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/leadership_transfer.h"
#include "platform/consensus/ordering/raft/published_membership.h"
#include "platform/consensus/ordering/raft/testing/raft_test_network.h"

namespace resdb {
namespace raft {
namespace {

using ::testing::HasSubstr;
using Clock = MembershipCoordinator::Clock;

// An operator's call: remembers the one answer.
struct Call {
  std::unique_ptr<Context> Open() {
    return std::make_unique<Context>(SignatureInfo(), "",
                                     [this](const Response& response) { answer = response; });
  }
  std::optional<Response> answer;
};

Response Respond(Response::Status status, const std::string& error) {
  Response response;
  response.set_status(status);
  response.set_error(error);
  return response;
}

AdminRequest AddReplicaRequest(int64_t id, const std::string& address, bool learner = false) {
  AdminRequest request;
  request.mutable_add_replica()->set_id(id);
  request.mutable_add_replica()->set_address(address);
  request.mutable_add_replica()->set_learner(learner);
  return request;
}

AdminRequest RemoveReplicaRequest(int64_t id) {
  AdminRequest request;
  request.mutable_remove_replica()->set_id(id);
  return request;
}

class MembershipCoordinatorTest : public testing::Test {
 protected:
  void SetUp() override {
    leader_ = net_.TickUntilLeader();
    ASSERT_NE(leader_, 0);
    // The leader's first entry of its term commits before any change may be proposed.
    net_.Stabilize();
  }

  std::unique_ptr<MembershipCoordinator> CoordinatorAt(
      int64_t id, MembershipCoordinator::Options options = {}) {
    options.self_id = id;
    options.catch_up_slack = 1;
    return std::make_unique<MembershipCoordinator>(
        options, &net_.node(id), Respond,
        [this](int64_t peer, const std::string& address) { peers_added_[peer] = address; });
  }

  // Runs the cluster and the coordinator until `call` is answered, at most `rounds` times.
  void RunUntilAnswered(MembershipCoordinator& coordinator, const Call& call, Clock::time_point now,
                        int rounds = 200) {
    for (int i = 0; i < rounds && !call.answer.has_value(); ++i) {
      net_.TickAll();
      net_.Stabilize();
      coordinator.Advance(now);
    }
  }

  raft_test::Network net_{3};
  int64_t leader_ = 0;
  std::map<int64_t, std::string> peers_added_;
};

TEST_F(MembershipCoordinatorTest, AVoterJoinsAsALearnerAndIsPromotedOnceCaughtUp) {
  RaftNodeOptions joining;
  net_.AddNode(4, joining);
  auto coordinator = CoordinatorAt(leader_);
  Call call;
  const Clock::time_point now = Clock::now();
  coordinator->Start(AddReplicaRequest(4, "127.0.0.1:10004"), call.Open(), now);
  EXPECT_EQ(peers_added_[4], "127.0.0.1:10004");
  EXPECT_TRUE(coordinator->in_progress());
  RunUntilAnswered(*coordinator, call, now);
  ASSERT_TRUE(call.answer.has_value());
  EXPECT_EQ(call.answer->status(), Response::OK) << call.answer->error();
  EXPECT_THAT(call.answer->error(), HasSubstr("committed"));
  EXPECT_TRUE(IsVoterOf(net_.node(leader_).membership(), 4));
  EXPECT_FALSE(coordinator->in_progress());
}

TEST_F(MembershipCoordinatorTest, ALearnerThatNeverCatchesUpIsNotPromotedAndTheCallTimesOut) {
  auto coordinator = CoordinatorAt(leader_);
  Call call;
  net_.Isolate(5);  // nobody runs replica 5: messages to it are lost
  AdminRequest request = AddReplicaRequest(5, "127.0.0.1:10005");
  request.set_timeout_ms(1000);
  const Clock::time_point start = Clock::now();
  coordinator->Start(request, call.Open(), start);
  RunUntilAnswered(*coordinator, call, start, /*rounds=*/20);
  EXPECT_FALSE(call.answer.has_value());
  EXPECT_TRUE(IsLearnerOf(net_.node(leader_).membership(), 5));
  coordinator->Advance(start + std::chrono::seconds(2));
  ASSERT_TRUE(call.answer.has_value());
  EXPECT_EQ(call.answer->status(), Response::TIMEOUT);
  EXPECT_THAT(call.answer->error(), HasSubstr("did not catch up"));
  EXPECT_FALSE(IsVoterOf(net_.node(leader_).membership(), 5));
}

TEST_F(MembershipCoordinatorTest, RequestsThatCannotStartAreAnsweredAtOnce) {
  MembershipCoordinator::Options options;
  options.configured = {{1, "127.0.0.1:1"}, {2, "127.0.0.1:2"}, {3, "127.0.0.1:3"}};
  options.require_signatures = true;
  auto coordinator = CoordinatorAt(leader_, options);
  const Clock::time_point now = Clock::now();
  auto answer_to = [&](const AdminRequest& request) {
    Call call;
    coordinator->Start(request, call.Open(), now);
    EXPECT_TRUE(call.answer.has_value());
    return call.answer.value_or(Response());
  };
  EXPECT_EQ(answer_to(RemoveReplicaRequest(9)).status(), Response::INVALID_REQUEST);
  EXPECT_THAT(answer_to(AddReplicaRequest(9, "")).error(), HasSubstr("not in the config file"));
  EXPECT_THAT(answer_to(AddReplicaRequest(9, "no-port")).error(), HasSubstr("not a host:port"));
  EXPECT_THAT(answer_to(AddReplicaRequest(9, "127.0.0.1:9")).error(),
              HasSubstr("require_signatures"));
  EXPECT_EQ(answer_to(AddReplicaRequest(0, "127.0.0.1:9")).status(), Response::INVALID_REQUEST);
  const Response already = answer_to(AddReplicaRequest(2, ""));
  EXPECT_EQ(already.status(), Response::OK);
  EXPECT_THAT(already.error(), HasSubstr("already a voter"));
  EXPECT_FALSE(coordinator->in_progress());
  EXPECT_TRUE(peers_added_.empty());

  const int64_t follower = leader_ == 1 ? 2 : 1;
  auto at_follower = CoordinatorAt(follower);
  Call call;
  at_follower->Start(RemoveReplicaRequest(3), call.Open(), now);
  ASSERT_TRUE(call.answer.has_value());
  EXPECT_EQ(call.answer->status(), Response::NO_LEADER);
}

TEST_F(MembershipCoordinatorTest, OneChangeAtATimeAndRemovalIsPublished) {
  const int64_t removed = leader_ == 3 ? 2 : 3;
  auto coordinator = CoordinatorAt(leader_);
  PublishedMembership published(leader_);
  ASSERT_TRUE(published.Sync(net_.node(leader_)).has_value());
  EXPECT_EQ(published.IsOtherMember(removed), true);

  const Clock::time_point now = Clock::now();
  Call first;
  coordinator->Start(RemoveReplicaRequest(removed), first.Open(), now);
  Call second;
  coordinator->Start(RemoveReplicaRequest(removed), second.Open(), now);
  ASSERT_TRUE(second.answer.has_value());
  EXPECT_EQ(second.answer->status(), Response::UNAVAILABLE);
  RunUntilAnswered(*coordinator, first, now);
  ASSERT_TRUE(first.answer.has_value());
  EXPECT_EQ(first.answer->status(), Response::OK) << first.answer->error();

  const std::optional<PublishedMembership::Change> change = published.Sync(net_.node(leader_));
  ASSERT_TRUE(change.has_value());
  EXPECT_TRUE(change->changed);
  EXPECT_EQ(change->current, MemberState::kVoter);
  EXPECT_EQ(published.IsOtherMember(removed), false);
  EXPECT_FALSE(published.Sync(net_.node(leader_)).has_value());  // nothing new

  PublishedMembership at_removed(removed);
  net_.Stabilize();
  ASSERT_TRUE(at_removed.Sync(net_.node(removed)).has_value());
  EXPECT_EQ(at_removed.state(), MemberState::kRemoved);
}

TEST_F(MembershipCoordinatorTest, LeadershipTransferIsAnsweredOnceTheTargetLeads) {
  const int64_t target = leader_ == 1 ? 2 : 1;
  LeadershipTransfer transfer(leader_, std::chrono::seconds(5), &net_.node(leader_), Respond);
  const Clock::time_point now = Clock::now();
  Call call;
  transfer.Start(target, call.Open(), now);
  for (int i = 0; i < 100 && !call.answer.has_value(); ++i) {
    net_.Stabilize();
    transfer.Check(now);
    net_.TickAll();
  }
  ASSERT_TRUE(call.answer.has_value());
  EXPECT_EQ(call.answer->status(), Response::OK) << call.answer->error();
  EXPECT_EQ(net_.Leader(), target);

  // The old leader is now a follower: it refuses.
  Call refused;
  transfer.Start(target, refused.Open(), now);
  ASSERT_TRUE(refused.answer.has_value());
  EXPECT_EQ(refused.answer->status(), Response::NO_LEADER);

  LeadershipTransfer at_new_leader(target, std::chrono::seconds(5), &net_.node(target), Respond);
  Call to_self;
  at_new_leader.Start(target, to_self.Open(), now);
  ASSERT_TRUE(to_self.answer.has_value());
  EXPECT_THAT(to_self.answer->error(), HasSubstr("already the leader"));
  Call to_stranger;
  at_new_leader.Start(42, to_stranger.Open(), now);
  ASSERT_TRUE(to_stranger.answer.has_value());
  EXPECT_EQ(to_stranger.answer->status(), Response::INVALID_REQUEST);
}

TEST_F(MembershipCoordinatorTest, AnUnfinishedTransferTimesOut) {
  const int64_t target = leader_ == 1 ? 2 : 1;
  net_.Isolate(target);
  LeadershipTransfer transfer(leader_, std::chrono::seconds(5), &net_.node(leader_), Respond);
  const Clock::time_point now = Clock::now();
  Call call;
  transfer.Start(target, call.Open(), now);
  transfer.Check(now);
  EXPECT_FALSE(call.answer.has_value());
  transfer.Check(now + std::chrono::seconds(6));
  ASSERT_TRUE(call.answer.has_value());
  EXPECT_EQ(call.answer->status(), Response::TIMEOUT);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
