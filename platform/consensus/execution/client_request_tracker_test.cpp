#include "platform/consensus/execution/client_request_tracker.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "platform/consensus/execution/recorded_answers.h"

namespace resdb {
namespace {

using Clock = ClientRequestTracker::Clock;

using Answers = RecordedAnswers;

UserRequest Make(uint64_t client, uint64_t id) { return MakeUserRequest(client, id, "payload"); }

TEST(ClientRequestTrackerTest, CompleteAnswersOnce) {
  ClientRequestTracker tracker(10);
  Answers answers;
  auto context = answers.NewContext();
  ASSERT_TRUE(tracker.Add(Make(1, 1), &context, Clock::now() + std::chrono::seconds(5)));
  EXPECT_EQ(context, nullptr);
  EXPECT_TRUE(tracker.Contains({1, 1}));
  Response ok;
  ok.set_data("done");
  EXPECT_TRUE(tracker.Complete({1, 1}, ok));
  EXPECT_FALSE(tracker.Complete({1, 1}, ok));
  ASSERT_EQ(answers.responses.size(), 1u);
  EXPECT_EQ(answers.responses[0].data(), "done");
  EXPECT_EQ(tracker.size(), 0u);
}

TEST(ClientRequestTrackerTest, RetryReplacesTheOldContext) {
  ClientRequestTracker tracker(10);
  Answers old_answers, new_answers;
  auto first = old_answers.NewContext();
  auto second = new_answers.NewContext();
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  ASSERT_TRUE(tracker.Add(Make(1, 1), &first, deadline));
  ASSERT_TRUE(tracker.Add(Make(1, 1), &second, deadline));
  ASSERT_EQ(old_answers.responses.size(), 1u);
  EXPECT_EQ(old_answers.responses[0].status(), Response::UNAVAILABLE);
  EXPECT_EQ(tracker.size(), 1u);
  EXPECT_TRUE(tracker.Complete({1, 1}, Response()));
  EXPECT_EQ(new_answers.responses.size(), 1u);
}

TEST(ClientRequestTrackerTest, FullTrackerRefusesAndKeepsTheContext) {
  ClientRequestTracker tracker(1);
  Answers answers;
  auto a = answers.NewContext();
  auto b = answers.NewContext();
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  ASSERT_TRUE(tracker.Add(Make(1, 1), &a, deadline));
  EXPECT_FALSE(tracker.Add(Make(1, 2), &b, deadline));
  ASSERT_NE(b, nullptr);
  b->Reply(Response());
  EXPECT_EQ(tracker.PendingRequests().size(), 1u);
  tracker.FailAll(Response());  // answers `a` while `answers` is alive
}

TEST(ClientRequestTrackerTest, ExpiryAndFailAll) {
  ClientRequestTracker tracker(10);
  Answers answers;
  const auto now = Clock::now();
  auto a = answers.NewContext();
  auto b = answers.NewContext();
  auto c = answers.NewContext();
  ASSERT_TRUE(tracker.Add(Make(1, 1), &a, now - std::chrono::milliseconds(1)));
  ASSERT_TRUE(tracker.Add(Make(1, 2), &b, now + std::chrono::seconds(5)));
  ASSERT_TRUE(tracker.Add(Make(2, 1), &c, now + std::chrono::seconds(5)));
  auto expired = tracker.TakeExpired(now);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].request.request_id(), 1u);
  EXPECT_EQ(expired[0].request.data(), "payload");
  expired[0].context->Reply(Response());
  Response no_leader;
  no_leader.set_status(Response::NO_LEADER);
  EXPECT_EQ(tracker.FailAll(no_leader), 2u);
  ASSERT_EQ(answers.responses.size(), 3u);
  EXPECT_EQ(answers.responses[1].status(), Response::NO_LEADER);
  EXPECT_EQ(tracker.size(), 0u);
}

TEST(ClientRequestTrackerTest, RetryIsDueOncePerInterval) {
  ClientRequestTracker tracker(10);
  Answers answers;
  auto a = answers.NewContext();
  ASSERT_TRUE(tracker.Add(Make(1, 1), &a, Clock::now() + std::chrono::seconds(5)));
  const auto interval = std::chrono::seconds(1);
  EXPECT_TRUE(tracker.TakeDueForRetry(Clock::now(), interval).empty());
  const auto later = Clock::now() + std::chrono::seconds(2);
  ASSERT_EQ(tracker.TakeDueForRetry(later, interval).size(), 1u);
  EXPECT_TRUE(tracker.TakeDueForRetry(later, interval).empty());
  EXPECT_EQ(tracker.TakeDueForRetry(later + interval, interval).size(), 1u);
  tracker.FailAll(Response());
}

}  // namespace
}  // namespace resdb
