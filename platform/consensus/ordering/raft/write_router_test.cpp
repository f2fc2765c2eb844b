#include "platform/consensus/ordering/raft/write_router.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/consensus/ordering/raft/testing/raft_test_network.h"

namespace resdb {
namespace raft {
namespace {

using ::testing::HasSubstr;
using Clock = WriteRouter::Clock;
using std::chrono::milliseconds;

// A client call whose answers the test reads.
struct Call {
  std::unique_ptr<Context> context;
  std::shared_ptr<std::vector<Response>> answers = std::make_shared<std::vector<Response>>();
  Call() {
    context = std::make_unique<Context>(
        SignatureInfo(), "",
        [answers = answers](const Response& response) { answers->push_back(response); });
  }
};

Response Respond(Response::Status status, const std::string& error) {
  Response response;
  response.set_status(status);
  response.set_error(error);
  return response;
}

class WriteRouterTest : public testing::Test {
 protected:
  // The router of replica `id`, over sessions that hold the calls of replica `id`.
  void MakeRouterAt(int64_t id) {
    self_ = id;
    ClientSessionsOptions options;
    options.self_id = id;
    sessions_ = std::make_unique<ClientSessions>(options, &table_, Respond,
                                                 [this](const Request& message, int64_t to) {
                                                   sent_.emplace_back(to, message);
                                                   return send_ok_;
                                                 });
    router_ = std::make_unique<WriteRouter>(id, milliseconds(1000), &net_.node(id), sessions_.get(),
                                            &metrics_, Respond);
  }

  // A write whose call replica self_ holds, tracked.
  UserRequest Track(uint64_t request_id, Call* call) {
    UserRequest request;
    request.set_client_id(9);
    request.set_request_id(request_id);
    request.set_data("write");
    request.set_proxy_id(self_);
    EXPECT_TRUE(sessions_->Track(request, &call->context));
    return request;
  }

  int64_t Elect() {
    const int64_t leader = net_.TickUntilLeader();
    net_.Stabilize();
    return leader;
  }

  raft_test::Network net_{3};
  Stats stats_;
  RaftMetrics metrics_{&stats_};
  AppliedRequestTable table_;
  std::vector<std::pair<int64_t, Request>> sent_;
  bool send_ok_ = true;
  int64_t self_ = 0;
  std::unique_ptr<ClientSessions> sessions_;
  std::unique_ptr<WriteRouter> router_;
};

TEST_F(WriteRouterTest, TheLeaderProposesQueuedWritesAsOneBatch) {
  const int64_t leader = Elect();
  MakeRouterAt(leader);
  Call a, b, c;
  for (auto [id, call] : {std::pair{1, &a}, {2, &b}, {3, &c}}) router_->Route(Track(id, call));
  const uint64_t last = net_.node(leader).last_index();
  router_->ProposeQueued();
  EXPECT_EQ(net_.node(leader).last_index(), last + 1);
  EXPECT_EQ(metrics_.proposals->Value(), 1u);
  EXPECT_EQ(metrics_.proposed_requests->Value(), 3u);
  EXPECT_FALSE(sessions_->HasQueued());
  EXPECT_TRUE(sent_.empty());
}

TEST_F(WriteRouterTest, AFollowerForwardsToTheLeaderNamingItselfAsProxy) {
  const int64_t leader = Elect();
  const int64_t follower = leader == 1 ? 2 : 1;
  MakeRouterAt(follower);
  Call call;
  router_->Route(Track(1, &call));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].first, leader);
  EXPECT_EQ(sent_[0].second.proxy_id(), follower);
  EXPECT_EQ(metrics_.forwarded_requests->Value(), 1u);
  EXPECT_TRUE(call.answers->empty());

  send_ok_ = false;
  Call unlucky;
  router_->Route(Track(2, &unlucky));
  ASSERT_EQ(unlucky.answers->size(), 1u);
  EXPECT_EQ((*unlucky.answers)[0].status(), Response::UNAVAILABLE);
  EXPECT_THAT((*unlucky.answers)[0].error(), HasSubstr("cannot reach leader"));
}

TEST_F(WriteRouterTest, WithoutALeaderAWriteIsAnsweredAtOnce) {
  MakeRouterAt(1);
  Call call;
  router_->Route(Track(1, &call));
  ASSERT_EQ(call.answers->size(), 1u);
  EXPECT_EQ((*call.answers)[0].status(), Response::NO_LEADER);
}

TEST_F(WriteRouterTest, AWriteForwardedToAFollowerIsDropped) {
  const int64_t leader = Elect();
  MakeRouterAt(leader == 1 ? 2 : 1);
  UserRequest forwarded;
  forwarded.set_client_id(9);
  forwarded.set_proxy_id(3);
  router_->Forwarded(forwarded);
  EXPECT_FALSE(sessions_->HasQueued());
  EXPECT_EQ(metrics_.forward_dropped->Value(), 1u);
}

TEST_F(WriteRouterTest, ANewLeaderGetsEveryWaitingWriteAgain) {
  MakeRouterAt(1);
  EXPECT_FALSE(router_->CheckLeaderChange());
  Call call;
  const UserRequest request = Track(1, &call);  // held, not routed yet: no leader known
  net_.Isolate(1);
  for (int i = 0; i < 500 && (net_.Leader() == 0 || net_.node(1).leader_id() == 0); ++i) {
    if (net_.Leader() != 0) net_.Heal();
    net_.TickAll();
    net_.Stabilize();
  }
  ASSERT_NE(net_.node(1).leader_id(), 0);
  ASSERT_NE(net_.node(1).role(), Role::kLeader);
  EXPECT_TRUE(router_->CheckLeaderChange());
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].first, net_.node(1).leader_id());
  EXPECT_EQ(sent_[0].second.request_id(), request.request_id());
  EXPECT_FALSE(router_->CheckLeaderChange());
}

TEST_F(WriteRouterTest, AForwardedWriteStillWaitingIsForwardedAgain) {
  const int64_t leader = Elect();
  MakeRouterAt(leader == 1 ? 2 : 1);
  Call call;
  router_->Route(Track(1, &call));
  ASSERT_EQ(sent_.size(), 1u);
  router_->Retry(Clock::now());
  EXPECT_EQ(sent_.size(), 1u);
  router_->Retry(Clock::now() + std::chrono::seconds(2));
  EXPECT_EQ(sent_.size(), 2u);
}

TEST_F(WriteRouterTest, ALeaderThatLostLeadershipRoutesItsOwnWritesAgain) {
  const int64_t leader = Elect();
  MakeRouterAt(leader);
  Call own;
  router_->Route(Track(1, &own));
  UserRequest other;
  other.set_client_id(8);
  other.set_proxy_id(leader == 3 ? 2 : 3);
  router_->Forwarded(other);
  // Another replica takes over.
  const int64_t next = leader == 1 ? 2 : 1;
  ASSERT_TRUE(net_.node(leader).TransferLeadership(next).ok());
  for (int i = 0; i < 100 && net_.node(leader).leader_id() != next; ++i) {
    net_.Stabilize();
    net_.TickAll();
  }
  ASSERT_EQ(net_.node(leader).leader_id(), next);
  router_->ProposeQueued();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].first, next);
  EXPECT_EQ(metrics_.forward_dropped->Value(), 1u);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
