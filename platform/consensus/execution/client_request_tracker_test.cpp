#include "platform/consensus/execution/client_request_tracker.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "platform/consensus/execution/recorded_answers.h"

namespace resdb {
namespace {

using Clock = ClientRequestTracker::Clock;
using AddResult = ClientRequestTracker::AddResult;

using Answers = RecordedAnswers;

UserRequest Make(uint64_t client, uint64_t id) { return MakeUserRequest(client, id, "payload"); }

TEST(ClientRequestTrackerTest, CompleteAnswersOnce) {
  ClientRequestTracker tracker(10, 10);
  Answers answers;
  auto context = answers.NewContext();
  ASSERT_EQ(tracker.Add(Make(1, 1), &context, Clock::now() + std::chrono::seconds(5)),
            AddResult::kAdded);
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
  ClientRequestTracker tracker(10, 10);
  Answers old_answers, new_answers;
  auto first = old_answers.NewContext();
  auto second = new_answers.NewContext();
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  ASSERT_EQ(tracker.Add(Make(1, 1), &first, deadline), AddResult::kAdded);
  ASSERT_EQ(tracker.Add(Make(1, 1), &second, deadline), AddResult::kAdded);
  ASSERT_EQ(old_answers.responses.size(), 1u);
  EXPECT_EQ(old_answers.responses[0].status(), Response::UNAVAILABLE);
  EXPECT_EQ(tracker.size(), 1u);
  EXPECT_TRUE(tracker.Complete({1, 1}, Response()));
  EXPECT_EQ(new_answers.responses.size(), 1u);
}

// One client cannot take every slot: its requests beyond max_per_client are refused while
// other clients' still fit, and a slot it frees, however, is its own again.
TEST(ClientRequestTrackerTest, OneClientIsLimitedToItsShare) {
  ClientRequestTracker tracker(10, 2);
  Answers answers;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  std::vector<std::unique_ptr<Context>> contexts;
  for (int i = 0; i < 6; ++i) contexts.push_back(answers.NewContext());
  ASSERT_EQ(tracker.Add(Make(1, 1), &contexts[0], deadline), AddResult::kAdded);
  ASSERT_EQ(tracker.Add(Make(1, 2), &contexts[1], deadline), AddResult::kAdded);
  EXPECT_EQ(tracker.Add(Make(1, 3), &contexts[2], deadline), AddResult::kClientFull);
  ASSERT_NE(contexts[2], nullptr);
  // A retry of a tracked request takes no new slot.
  EXPECT_EQ(tracker.Add(Make(1, 2), &contexts[3], deadline), AddResult::kAdded);
  EXPECT_EQ(tracker.Add(Make(2, 1), &contexts[4], deadline), AddResult::kAdded);
  EXPECT_TRUE(tracker.Complete({1, 1}, Response()));
  EXPECT_EQ(tracker.Add(Make(1, 3), &contexts[2], deadline), AddResult::kAdded);
  // Expired and failed requests free their client's slots too.
  EXPECT_EQ(tracker.TakeExpired(deadline).size(), 3u);
  EXPECT_EQ(tracker.Add(Make(1, 4), &contexts[5], deadline), AddResult::kAdded);
  tracker.FailAll(Response());
  auto again = answers.NewContext();
  EXPECT_EQ(tracker.Add(Make(1, 5), &again, deadline), AddResult::kAdded);
  auto more = answers.NewContext();
  EXPECT_EQ(tracker.Add(Make(1, 6), &more, deadline), AddResult::kAdded);
  tracker.FailAll(Response());
}

TEST(ClientRequestTrackerTest, FullTrackerRefusesAndKeepsTheContext) {
  ClientRequestTracker tracker(1, 5);
  Answers answers;
  auto a = answers.NewContext();
  auto b = answers.NewContext();
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  ASSERT_EQ(tracker.Add(Make(1, 1), &a, deadline), AddResult::kAdded);
  EXPECT_EQ(tracker.Add(Make(1, 2), &b, deadline), AddResult::kFull);
  ASSERT_NE(b, nullptr);
  b->Reply(Response());
  EXPECT_EQ(tracker.PendingRequests().size(), 1u);
  tracker.FailAll(Response());  // answers `a` while `answers` is alive
}

TEST(ClientRequestTrackerTest, ExpiryAndFailAll) {
  ClientRequestTracker tracker(10, 10);
  Answers answers;
  const auto now = Clock::now();
  auto a = answers.NewContext();
  auto b = answers.NewContext();
  auto c = answers.NewContext();
  ASSERT_EQ(tracker.Add(Make(1, 1), &a, now - std::chrono::milliseconds(1)), AddResult::kAdded);
  ASSERT_EQ(tracker.Add(Make(1, 2), &b, now + std::chrono::seconds(5)), AddResult::kAdded);
  ASSERT_EQ(tracker.Add(Make(2, 1), &c, now + std::chrono::seconds(5)), AddResult::kAdded);
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
  ClientRequestTracker tracker(10, 10);
  Answers answers;
  auto a = answers.NewContext();
  ASSERT_EQ(tracker.Add(Make(1, 1), &a, Clock::now() + std::chrono::seconds(5)), AddResult::kAdded);
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
