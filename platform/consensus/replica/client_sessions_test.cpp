#include "platform/consensus/replica/client_sessions.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace {

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

UserRequest Write(uint64_t client_id, uint64_t request_id, const std::string& data = "w") {
  UserRequest request;
  request.set_client_id(client_id);
  request.set_request_id(request_id);
  request.set_data(data);
  request.set_proxy_id(1);
  request.set_client_signature("sig");
  return request;
}

class ClientSessionsTest : public ::testing::Test {
 protected:
  std::unique_ptr<ClientSessions> Make(ClientSessionsOptions options = {}) {
    options.self_id = 1;
    return std::make_unique<ClientSessions>(
        options, &table_,
        [](Response::Status status, const std::string& error) {
          Response response;
          response.set_status(status);
          response.set_error(error);
          response.set_replica_id(1);
          return response;
        },
        [this](const Request& message, int64_t to) {
          sent_.emplace_back(to, message);
          return send_ok_;
        });
  }

  AppliedRequestTable table_;
  std::vector<std::pair<int64_t, Request>> sent_;
  bool send_ok_ = true;
};

TEST_F(ClientSessionsTest, AnswersARetryOfAnAppliedRequestFromTheTable) {
  auto sessions = Make();
  table_.BeginBatch();
  table_.Record(7, 1, "first");
  Call call;
  EXPECT_TRUE(sessions->AnswerIfApplied(Write(7, 1), call.context.get()));
  ASSERT_EQ(call.answers->size(), 1u);
  EXPECT_EQ((*call.answers)[0].status(), Response::OK);
  EXPECT_EQ((*call.answers)[0].data(), "first");
  Call other;
  EXPECT_FALSE(sessions->AnswerIfApplied(Write(7, 2), other.context.get()));
  EXPECT_TRUE(other.answers->empty());
}

TEST_F(ClientSessionsTest, TrackedCallIsAnsweredFromTheExecutedBatch) {
  auto sessions = Make();
  Call a, b;
  ASSERT_TRUE(sessions->Track(Write(7, 1), &a.context));
  ASSERT_TRUE(sessions->Track(Write(8, 1), &b.context));
  EXPECT_EQ(sessions->size(), 2u);

  BatchUserRequest batch;
  *batch.add_requests() = Write(9, 1);  // held by another replica
  *batch.add_requests() = Write(8, 1);
  *batch.add_requests() = Write(7, 1);
  BatchUserResponse responses;
  responses.add_responses("r9");
  responses.add_responses("r8");
  responses.add_responses("r7");
  sessions->AnswerExecuted(12, batch, responses);

  ASSERT_EQ(a.answers->size(), 1u);
  EXPECT_EQ((*a.answers)[0].data(), "r7");
  EXPECT_EQ((*a.answers)[0].seq(), 12u);
  ASSERT_EQ(b.answers->size(), 1u);
  EXPECT_EQ((*b.answers)[0].data(), "r8");
  EXPECT_EQ(sessions->size(), 0u);
}

TEST_F(ClientSessionsTest, TrackAnswersARequestThatExecutedMeanwhile) {
  auto sessions = Make();
  table_.BeginBatch();
  table_.Record(7, 1, "done");
  Call call;
  EXPECT_FALSE(sessions->Track(Write(7, 1), &call.context));
  ASSERT_EQ(call.answers->size(), 1u);
  EXPECT_EQ((*call.answers)[0].data(), "done");
  EXPECT_EQ(sessions->size(), 0u);
}

TEST_F(ClientSessionsTest, RefusesBeyondTheLimitsWithUnavailable) {
  ClientSessionsOptions options;
  options.max_pending = 3;
  options.max_per_client = 2;
  auto sessions = Make(options);
  Call calls[4];
  EXPECT_TRUE(sessions->Track(Write(7, 1), &calls[0].context));
  EXPECT_TRUE(sessions->Track(Write(7, 2), &calls[1].context));
  EXPECT_FALSE(sessions->Track(Write(7, 3), &calls[2].context));
  ASSERT_EQ(calls[2].answers->size(), 1u);
  EXPECT_EQ((*calls[2].answers)[0].status(), Response::UNAVAILABLE);
  EXPECT_TRUE(sessions->Track(Write(8, 1), &calls[3].context));
  Call full;
  EXPECT_FALSE(sessions->Track(Write(9, 1), &full.context));
  ASSERT_EQ(full.answers->size(), 1u);
  EXPECT_EQ((*full.answers)[0].status(), Response::UNAVAILABLE);
}

TEST_F(ClientSessionsTest, ExpiredCallsGetTimeout) {
  ClientSessionsOptions options;
  options.timeout = milliseconds(0);
  auto sessions = Make(options);
  Call call;
  ASSERT_TRUE(sessions->Track(Write(7, 1), &call.context));
  EXPECT_EQ(sessions->ExpireDue(ClientSessions::Clock::now() + milliseconds(1), "too slow"), 1u);
  ASSERT_EQ(call.answers->size(), 1u);
  EXPECT_EQ((*call.answers)[0].status(), Response::TIMEOUT);
  EXPECT_EQ((*call.answers)[0].error(), "too slow");
  EXPECT_EQ(sessions->size(), 0u);
}

TEST_F(ClientSessionsTest, FailAndFailAllAnswerTrackedCalls) {
  auto sessions = Make();
  Call a, b, c;
  ASSERT_TRUE(sessions->Track(Write(7, 1), &a.context));
  ASSERT_TRUE(sessions->Track(Write(7, 2), &b.context));
  ASSERT_TRUE(sessions->Track(Write(8, 1), &c.context));
  Response overloaded;
  overloaded.set_status(Response::UNAVAILABLE);
  sessions->Fail(Write(7, 1), overloaded);
  ASSERT_EQ(a.answers->size(), 1u);
  EXPECT_EQ((*a.answers)[0].status(), Response::UNAVAILABLE);

  Response lost;
  lost.set_status(Response::NO_LEADER);
  EXPECT_EQ(sessions->FailAll(lost), 2u);
  ASSERT_EQ(b.answers->size(), 1u);
  EXPECT_EQ((*b.answers)[0].status(), Response::NO_LEADER);
  ASSERT_EQ(c.answers->size(), 1u);
  EXPECT_EQ(sessions->size(), 0u);
}

TEST_F(ClientSessionsTest, ForwardNamesThisReplicaAsProxy) {
  auto sessions = Make();
  EXPECT_TRUE(sessions->Forward(Write(7, 3, "payload"), 4));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].first, 4);
  const Request& forward = sent_[0].second;
  EXPECT_EQ(forward.type(), Request::TYPE_CLIENT_REQUEST);
  EXPECT_EQ(forward.sender_id(), 1);
  EXPECT_EQ(forward.proxy_id(), 1);
  EXPECT_EQ(forward.client_id(), 7u);
  EXPECT_EQ(forward.request_id(), 3u);
  EXPECT_EQ(forward.data(), "payload");
  EXPECT_EQ(forward.client_signature(), "sig");
  send_ok_ = false;
  EXPECT_FALSE(sessions->Forward(Write(7, 4), 4));
}

TEST_F(ClientSessionsTest, ForwardWithoutSignaturesLeavesThemOut) {
  ClientSessionsOptions options;
  options.forward_signatures = false;
  auto sessions = Make(options);
  ASSERT_TRUE(sessions->Forward(Write(7, 3), 4));
  EXPECT_TRUE(sent_[0].second.client_signature().empty());
}

TEST_F(ClientSessionsTest, QueuedRequestsAreCutIntoBatchesByCount) {
  ClientSessionsOptions options;
  options.batch_requests = 2;
  auto sessions = Make(options);
  for (uint64_t id = 1; id <= 5; ++id) sessions->Queue(Write(7, id));
  std::vector<size_t> sizes;
  EXPECT_EQ(sessions->ProposeQueued([&](BatchUserRequest& batch, size_t count) {
    EXPECT_EQ(static_cast<size_t>(batch.requests_size()), count);
    sizes.push_back(count);
    return true;
  }),
            3u);
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1}));
  EXPECT_FALSE(sessions->HasQueued());
}

TEST_F(ClientSessionsTest, QueuedRequestsAreCutIntoBatchesByBytes) {
  ClientSessionsOptions options;
  options.batch_requests = 100;
  options.batch_bytes = 150;
  auto sessions = Make(options);
  for (uint64_t id = 1; id <= 4; ++id) sessions->Queue(Write(7, id, std::string(100, 'x')));
  size_t batches = sessions->ProposeQueued([](BatchUserRequest& batch, size_t count) {
    EXPECT_EQ(count, 1u);
    return true;
  });
  EXPECT_EQ(batches, 4u);
}

TEST_F(ClientSessionsTest, ARefusedBatchStaysQueuedWithWhatFollows) {
  ClientSessionsOptions options;
  options.batch_requests = 2;
  auto sessions = Make(options);
  for (uint64_t id = 1; id <= 5; ++id) sessions->Queue(Write(7, id));
  int calls = 0;
  EXPECT_EQ(sessions->ProposeQueued([&](BatchUserRequest&, size_t) { return ++calls == 1; }), 1u);
  std::vector<UserRequest> left = sessions->TakeQueued();
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0].request_id(), 3u);
  EXPECT_EQ(left[0].data(), "w");
  EXPECT_EQ(left[2].request_id(), 5u);
  EXPECT_FALSE(sessions->HasQueued());
}

TEST_F(ClientSessionsTest, PendingAndRetryListTrackedRequests) {
  auto sessions = Make();
  Call a, b;
  ASSERT_TRUE(sessions->Track(Write(7, 1), &a.context));
  ASSERT_TRUE(sessions->Track(Write(8, 1), &b.context));
  EXPECT_EQ(sessions->Pending().size(), 2u);
  const auto later = ClientSessions::Clock::now() + milliseconds(100);
  EXPECT_EQ(sessions->TakeDueForRetry(later, milliseconds(50)).size(), 2u);
  // Routed again just now: not due yet.
  EXPECT_TRUE(sessions->TakeDueForRetry(later, milliseconds(50)).empty());
}

}  // namespace
}  // namespace resdb
