#include "platform/networkstrate/consensus_manager.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "platform/networkstrate/test_config.h"

namespace resdb {
namespace {

using testing_util::MakeTestConfig;

constexpr int kIntervalMs = 20;

class CountingManager : public ConsensusManager {
 public:
  explicit CountingManager(const ResDBConfig& config) : ConsensusManager(config) {}
  ~CountingManager() override { Stop(); }

  int OnClientCall(std::unique_ptr<Context>, std::unique_ptr<Request>) override { return 0; }
  int OnReplicaMessage(std::unique_ptr<Request>, ResDBMessage) override { return 0; }
  int64_t GetPrimary() override { return 0; }
  uint64_t GetVersion() override { return 0; }

  bool WaitForBeats(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return beats_ >= count; });
  }
  int beats() {
    std::lock_guard<std::mutex> lock(mu_);
    return beats_;
  }

 protected:
  void HeartBeat() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++beats_;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int beats_ = 0;
};

ResDBConfig HeartBeatConfig() {
  ResConfigData base;
  base.set_heartbeat_interval_ms(kIntervalMs);
  return MakeTestConfig(1, {{1, 0}}, base);
}

TEST(ConsensusManagerTest, HeartBeatRunsBetweenStartAndStop) {
  CountingManager manager(HeartBeatConfig());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(manager.Start().ok());
  ASSERT_TRUE(manager.WaitForBeats(5));
  // Paced by the interval, not a busy loop.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(5 * kIntervalMs));

  manager.Stop();
  const int beats = manager.beats();
  // Stop joined the heartbeat thread, so nothing can call HeartBeat any more; give a
  // (wrongly) surviving thread several intervals to show itself.
  std::this_thread::sleep_for(std::chrono::milliseconds(10 * kIntervalMs));
  EXPECT_EQ(manager.beats(), beats);
}

TEST(ConsensusManagerTest, StartTwiceFailsAndStopIsIdempotent) {
  CountingManager manager(HeartBeatConfig());
  ASSERT_TRUE(manager.Start().ok());
  EXPECT_FALSE(manager.Start().ok());
  manager.Stop();
  manager.Stop();
  EXPECT_FALSE(manager.Start().ok());
}

TEST(ConsensusManagerTest, StatsAndCommunicatorAreAlwaysAvailable) {
  CountingManager manager(HeartBeatConfig());
  EXPECT_NE(manager.stats(), nullptr);
  EXPECT_NE(manager.GetCommunicator(), nullptr);
  EXPECT_EQ(manager.config().GetSelfId(), 1);
}

TEST(ConsensusManagerTest, StatusRequestsAreAnsweredWithGetStatus) {
  CountingManager manager(HeartBeatConfig());
  Response answer;
  bool answered = false;
  Context context(SignatureInfo(), "", [&](const Response& response) {
    answer = response;
    answered = true;
  });
  Request status_request;
  status_request.set_type(Request::TYPE_STATUS);
  EXPECT_TRUE(manager.AnswerStatusRequest(status_request, &context));
  ASSERT_TRUE(answered);
  EXPECT_EQ(answer.status(), Response::OK);
  ReplicaStatus status;
  ASSERT_TRUE(status.ParseFromString(answer.data()));
  EXPECT_EQ(status.id(), 1);
  EXPECT_EQ(status.protocol(), "pbft");

  Context other(SignatureInfo(), "", [](const Response&) {});
  Request client_request;
  client_request.set_type(Request::TYPE_CLIENT_REQUEST);
  EXPECT_FALSE(manager.AnswerStatusRequest(client_request, &other));
  EXPECT_TRUE(other.CanReply());
}

}  // namespace
}  // namespace resdb
