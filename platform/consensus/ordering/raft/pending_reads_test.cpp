#include "platform/consensus/ordering/raft/pending_reads.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace raft {
namespace {

using Clock = PendingReads::Clock;

// Collects what the reads were answered with.
class Answers {
 public:
  std::unique_ptr<Context> NewCall(const std::string& name) {
    return std::make_unique<Context>(SignatureInfo(), "", [this, name](const Response& response) {
      std::lock_guard<std::mutex> lock(mu_);
      answers_[name].push_back(response);
    });
  }
  // The answers `name` got (a call is answered at most once by Context; counted anyway).
  std::vector<Response> Of(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return answers_[name];
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<Response>> answers_;
};

Response WithStatus(Response::Status status) {
  Response response;
  response.set_status(status);
  return response;
}

// Serves a read by echoing its data and the applied index it was served at.
PendingReads::ServeFn Echo() {
  return [](std::unique_ptr<Context> context, const std::string& data, uint64_t applied) {
    Response response;
    response.set_status(Response::OK);
    response.set_data(data);
    response.set_seq(applied);
    context->Reply(response);
  };
}

const Clock::time_point kFarAway = Clock::now() + std::chrono::hours(1);

TEST(PendingReadsTest, AReadWhoseIndexIsAppliedIsServedAtOnce) {
  Answers answers;
  PendingReads reads(/*applied=*/5, Echo());
  const uint64_t id = reads.Add(answers.NewCall("a"), "get a", kFarAway);
  EXPECT_TRUE(answers.Of("a").empty());
  reads.SetIndex(id, 5);
  ASSERT_EQ(answers.Of("a").size(), 1u);
  EXPECT_EQ(answers.Of("a")[0].data(), "get a");
  EXPECT_EQ(answers.Of("a")[0].seq(), 5u);
  EXPECT_EQ(reads.size(), 0u);
}

TEST(PendingReadsTest, AReadWaitsUntilTheAppliedIndexReachesItsReadIndex) {
  Answers answers;
  PendingReads reads(/*applied=*/1, Echo());
  const uint64_t id = reads.Add(answers.NewCall("a"), "get a", kFarAway);
  reads.SetIndex(id, 4);
  reads.SetApplied(3);
  EXPECT_TRUE(answers.Of("a").empty());
  reads.SetApplied(2);  // never goes back
  EXPECT_TRUE(answers.Of("a").empty());
  reads.SetApplied(6);
  ASSERT_EQ(answers.Of("a").size(), 1u);
  EXPECT_EQ(answers.Of("a")[0].seq(), 6u);
  reads.SetApplied(7);
  EXPECT_EQ(answers.Of("a").size(), 1u);
}

TEST(PendingReadsTest, AFailedReadIsAnsweredOnceAndForgotten) {
  Answers answers;
  PendingReads reads(/*applied=*/0, Echo());
  const uint64_t id = reads.Add(answers.NewCall("a"), "get a", kFarAway);
  reads.SetIndex(id, 3);
  reads.Fail(id, WithStatus(Response::NO_LEADER));
  reads.SetApplied(3);
  reads.SetIndex(id, 1);
  ASSERT_EQ(answers.Of("a").size(), 1u);
  EXPECT_EQ(answers.Of("a")[0].status(), Response::NO_LEADER);
  EXPECT_EQ(reads.size(), 0u);
}

TEST(PendingReadsTest, OnlyReadsPastTheirDeadlineExpire) {
  Answers answers;
  PendingReads reads(/*applied=*/0, Echo());
  const Clock::time_point now = Clock::now();
  const uint64_t late = reads.Add(answers.NewCall("late"), "x", now - std::chrono::seconds(1));
  reads.SetIndex(late, 9);
  reads.Add(answers.NewCall("early"), "y", now + std::chrono::hours(1));
  EXPECT_EQ(reads.Expire(now, WithStatus(Response::TIMEOUT)), 1u);
  ASSERT_EQ(answers.Of("late").size(), 1u);
  EXPECT_EQ(answers.Of("late")[0].status(), Response::TIMEOUT);
  EXPECT_TRUE(answers.Of("early").empty());
  reads.SetApplied(9);  // the expired read is not served again
  EXPECT_EQ(answers.Of("late").size(), 1u);
  reads.FailAll(WithStatus(Response::UNAVAILABLE));
  ASSERT_EQ(answers.Of("early").size(), 1u);
  EXPECT_EQ(answers.Of("early")[0].status(), Response::UNAVAILABLE);
}

// Read indexes arrive on one thread while the applied index rises on another: every read is
// served exactly once, at an applied index at or above its read index.
TEST(PendingReadsTest, RacingIndexAndApplyServeEveryReadOnce) {
  constexpr int kReads = 2000;
  std::atomic<int> served{0};
  std::atomic<int> too_early{0};
  std::vector<uint64_t> index_of(kReads + 1);
  PendingReads reads(0, [&](std::unique_ptr<Context>, const std::string& data, uint64_t applied) {
    if (applied < index_of[std::stoi(data)]) too_early.fetch_add(1);
    served.fetch_add(1);
  });
  std::vector<uint64_t> ids;
  for (int i = 1; i <= kReads; ++i) {
    index_of[i] = static_cast<uint64_t>(i);
    ids.push_back(
        reads.Add(std::make_unique<Context>(SignatureInfo(), ""), std::to_string(i), kFarAway));
  }
  std::thread indexer([&] {
    for (int i = 0; i < kReads; ++i) reads.SetIndex(ids[i], index_of[i + 1]);
  });
  std::thread applier([&] {
    for (uint64_t a = 1; a <= kReads; ++a) reads.SetApplied(a);
  });
  indexer.join();
  applier.join();
  EXPECT_EQ(served.load(), kReads);
  EXPECT_EQ(too_early.load(), 0);
  EXPECT_EQ(reads.size(), 0u);
}

}  // namespace
}  // namespace raft
}  // namespace resdb
