#include "platform/consensus/replica/protocol_thread.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "gtest/gtest.h"

namespace resdb {
namespace {

TEST(ProtocolThreadTest, RunsTheLoopOnceAfterWhatComesBefore) {
  ProtocolThread thread("test replica");
  std::atomic<int> order{0};
  std::atomic<int> before_at{-1};
  std::atomic<int> loop_at{-1};
  ASSERT_TRUE(thread
                  .Start(
                      [&] {
                        before_at = order++;
                        return absl::OkStatus();
                      },
                      [&] { loop_at = order++; })
                  .ok());
  thread.Join();
  EXPECT_EQ(before_at.load(), 0);
  EXPECT_EQ(loop_at.load(), 1);
  absl::Status again = thread.Start([] { return absl::OkStatus(); }, [] {});
  EXPECT_TRUE(absl::IsFailedPrecondition(again));
  EXPECT_NE(again.message().find("test replica"), absl::string_view::npos);
}

TEST(ProtocolThreadTest, AStoppedReplicaDoesNotStart) {
  ProtocolThread thread("test replica");
  thread.BeginStop();
  bool ran = false;
  EXPECT_TRUE(absl::IsFailedPrecondition(thread.Start(
      [&] {
        ran = true;
        return absl::OkStatus();
      },
      [] {})));
  EXPECT_FALSE(ran);
  EXPECT_TRUE(thread.stopping());
}

TEST(ProtocolThreadTest, AFailedStartRunsNoLoop) {
  ProtocolThread thread("test replica");
  std::atomic<bool> ran{false};
  absl::Status status =
      thread.Start([] { return absl::UnavailableError("port taken"); }, [&] { ran = true; });
  EXPECT_EQ(status.message(), "port taken");
  thread.Join();
  EXPECT_FALSE(ran.load());
}

TEST(ProtocolThreadTest, StopEndsALoopThatWatchesIt) {
  ProtocolThread thread("test replica");
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  ASSERT_TRUE(thread
                  .Start([] { return absl::OkStatus(); },
                         [&] {
                           std::unique_lock<std::mutex> lock(mu);
                           cv.wait(lock, [&] { return stop; });
                         })
                  .ok());
  EXPECT_FALSE(thread.stopping());
  thread.BeginStop();
  EXPECT_TRUE(thread.stopping());
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  cv.notify_all();
  thread.Join();
}

}  // namespace
}  // namespace resdb
