#include "platform/common/two_lane_queue.h"

#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace resdb {
namespace {

using Queue = TwoLaneQueue<int>;
using Lane = Queue::Lane;

// A full client lane refuses client work but never replica traffic.
TEST(TwoLaneQueueTest, AFullClientLaneLeavesRoomForReplicaTraffic) {
  Queue queue(3, 2);
  EXPECT_TRUE(queue.TryPush(Lane::kClient, 1));
  EXPECT_TRUE(queue.TryPush(Lane::kClient, 2));
  EXPECT_FALSE(queue.TryPush(Lane::kClient, 3));
  EXPECT_TRUE(queue.TryPush(Lane::kReplica, 10));
  EXPECT_TRUE(queue.TryPush(Lane::kReplica, 11));
  EXPECT_TRUE(queue.TryPush(Lane::kReplica, 12));
  EXPECT_FALSE(queue.TryPush(Lane::kReplica, 13));
  EXPECT_EQ(queue.size(Lane::kClient), 2u);
  EXPECT_EQ(queue.size(Lane::kReplica), 3u);
}

// Replica traffic comes first in a round, and a round takes a bounded share of client work.
TEST(TwoLaneQueueTest, RoundTakesReplicaTrafficFirstAndBoundedClientWork) {
  Queue queue(10, 10);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(queue.TryPush(Lane::kClient, i));
  ASSERT_TRUE(queue.TryPush(Lane::kReplica, 100));
  ASSERT_TRUE(queue.TryPush(Lane::kReplica, 101));
  EXPECT_EQ(queue.PopRound(10, 2), (std::vector<int>{100, 101, 1, 2}));
  ASSERT_TRUE(queue.TryPush(Lane::kReplica, 102));
  EXPECT_EQ(queue.PopRound(10, 2), (std::vector<int>{102, 3, 4}));
  EXPECT_EQ(queue.PopRound(10, 2), (std::vector<int>{5}));
  EXPECT_TRUE(queue.PopRound(10, 2).empty());
}

TEST(TwoLaneQueueTest, WaitWakesOnEitherLaneAndOnClose) {
  Queue queue(4, 4);
  const auto soon = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  EXPECT_TRUE(queue.WaitForItems(soon));  // deadline passed, still open
  std::thread producer([&] { queue.TryPush(Lane::kClient, 7); });
  EXPECT_TRUE(queue.WaitForItems(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  producer.join();
  EXPECT_EQ(queue.PopRound(4, 4), std::vector<int>{7});
  ASSERT_TRUE(queue.TryPush(Lane::kReplica, 8));
  std::thread closer([&] { queue.Close(); });
  closer.join();
  EXPECT_FALSE(queue.WaitForItems(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_FALSE(queue.TryPush(Lane::kReplica, 9));
  EXPECT_EQ(queue.PopRound(4, 4), std::vector<int>{8});  // drained after Close
}

}  // namespace
}  // namespace resdb
