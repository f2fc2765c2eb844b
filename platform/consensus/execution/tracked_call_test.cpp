#include "platform/consensus/execution/tracked_call.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "platform/consensus/execution/recorded_answers.h"

namespace resdb {
namespace {

using Clock = ClientRequestTracker::Clock;

using Answers = RecordedAnswers;

UserRequest Make(uint64_t client, uint64_t id) { return MakeUserRequest(client, id); }

Response Ok() {
  Response response;
  response.set_status(Response::OK);
  response.set_replica_id(3);
  return response;
}

TEST(TrackUnlessAppliedTest, ARequestNotExecutedIsTrackedUntilCompleted) {
  AppliedRequestTable table;
  // Declared before the tracker, which answers what it still holds when destroyed.
  Answers answers;
  ClientRequestTracker tracker(10, 10);
  auto context = answers.NewContext();
  EXPECT_EQ(TrackUnlessApplied(Make(5, 1), &context, Clock::now() + std::chrono::seconds(10), table,
                               Ok(), &tracker),
            TrackOutcome::kTracked);
  EXPECT_TRUE(answers.responses.empty());
  EXPECT_TRUE(tracker.Contains({5, 1}));
}

TEST(TrackUnlessAppliedTest, ARequestThatExecutedMeanwhileIsAnsweredFromTheTable) {
  AppliedRequestTable table;
  table.BeginBatch();
  table.Record(5, 1, "result");
  // Declared before the tracker, which answers what it still holds when destroyed.
  Answers answers;
  ClientRequestTracker tracker(10, 10);
  auto context = answers.NewContext();
  EXPECT_EQ(TrackUnlessApplied(Make(5, 1), &context, Clock::now() + std::chrono::seconds(10), table,
                               Ok(), &tracker),
            TrackOutcome::kAnswered);
  ASSERT_EQ(answers.responses.size(), 1u);
  EXPECT_EQ(answers.responses[0].status(), Response::OK);
  EXPECT_EQ(answers.responses[0].replica_id(), 3);
  EXPECT_EQ(answers.responses[0].data(), "result");
  EXPECT_FALSE(tracker.Contains({5, 1}));
}

TEST(TrackUnlessAppliedTest, AFullTrackerLeavesTheCallToTheCaller) {
  AppliedRequestTable table;
  Answers answers;
  ClientRequestTracker tracker(1, 1);
  auto first = answers.NewContext();
  ASSERT_EQ(TrackUnlessApplied(Make(5, 1), &first, Clock::now() + std::chrono::seconds(10), table,
                               Ok(), &tracker),
            TrackOutcome::kTracked);
  auto second = answers.NewContext();
  EXPECT_EQ(TrackUnlessApplied(Make(5, 2), &second, Clock::now() + std::chrono::seconds(10), table,
                               Ok(), &tracker),
            TrackOutcome::kFull);
  EXPECT_NE(second, nullptr);
  EXPECT_TRUE(answers.responses.empty());
}

}  // namespace
}  // namespace resdb
