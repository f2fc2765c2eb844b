#include "platform/common/bounded_queue.h"

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resdb {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;

// Long enough never to expire in a passing test; only bounds how long a broken one hangs.
constexpr milliseconds kForever(30000);

TEST(BoundedQueueTest, PopsInFifoOrder) {
  BoundedQueue<int> queue(4);
  EXPECT_TRUE(queue.TryPush(1));
  EXPECT_TRUE(queue.Push(2, milliseconds(0)));
  EXPECT_TRUE(queue.TryPush(3));
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.Pop(milliseconds(0)), 1);
  EXPECT_EQ(queue.Pop(milliseconds(0)), 2);
  EXPECT_EQ(queue.Pop(milliseconds(0)), 3);
  EXPECT_EQ(queue.size(), 0u);
}

TEST(BoundedQueueTest, FullQueueRefusesUntilAnItemIsRemoved) {
  BoundedQueue<int> queue(2);
  EXPECT_TRUE(queue.TryPush(1));
  EXPECT_TRUE(queue.TryPush(2));
  EXPECT_FALSE(queue.TryPush(3));
  EXPECT_EQ(queue.size(), 2u);

  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(queue.Push(3, milliseconds(20)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(20));
  EXPECT_EQ(queue.size(), 2u);

  EXPECT_EQ(queue.Pop(milliseconds(0)), 1);
  EXPECT_TRUE(queue.TryPush(3));
  EXPECT_THAT(queue.PopAll(10), ElementsAre(2, 3));
}

TEST(BoundedQueueTest, ZeroCapacityRefusesEveryPush) {
  BoundedQueue<int> queue(0);
  EXPECT_FALSE(queue.TryPush(1));
  EXPECT_FALSE(queue.Push(1, milliseconds(1)));
  EXPECT_EQ(queue.Pop(milliseconds(0)), std::nullopt);
}

TEST(BoundedQueueTest, PopOnEmptyQueueTimesOut) {
  BoundedQueue<int> queue(1);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(queue.Pop(milliseconds(20)), std::nullopt);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(20));
  EXPECT_EQ(queue.Pop(milliseconds(0)), std::nullopt);
}

TEST(BoundedQueueTest, PopAllTakesAtMostMaxItemsWithoutWaiting) {
  BoundedQueue<int> queue(8);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue.TryPush(i));
  EXPECT_THAT(queue.PopAll(3), ElementsAre(0, 1, 2));
  EXPECT_TRUE(queue.PopAll(0).empty());
  EXPECT_THAT(queue.PopAll(10), ElementsAre(3, 4));
  EXPECT_TRUE(queue.PopAll(10).empty());
}

TEST(BoundedQueueTest, HoldsMoveOnlyItems) {
  BoundedQueue<std::unique_ptr<int>> queue(2);
  ASSERT_TRUE(queue.TryPush(std::make_unique<int>(7)));
  ASSERT_TRUE(queue.Push(std::make_unique<int>(8), milliseconds(0)));
  std::optional<std::unique_ptr<int>> first = queue.Pop(milliseconds(0));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(**first, 7);
  std::vector<std::unique_ptr<int>> rest = queue.PopAll(5);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(*rest[0], 8);
}

TEST(BoundedQueueTest, CloseWakesBlockedPop) {
  BoundedQueue<int> queue(1);
  std::promise<void> popping;
  std::future<std::optional<int>> result = std::async(std::launch::async, [&] {
    popping.set_value();
    return queue.Pop(kForever);
  });
  popping.get_future().wait();
  queue.Close();
  ASSERT_EQ(result.wait_for(kForever), std::future_status::ready);
  EXPECT_EQ(result.get(), std::nullopt);
}

TEST(BoundedQueueTest, CloseWakesBlockedPush) {
  BoundedQueue<int> queue(1);
  ASSERT_TRUE(queue.TryPush(1));
  std::promise<void> pushing;
  std::future<bool> result = std::async(std::launch::async, [&] {
    pushing.set_value();
    return queue.Push(2, kForever);
  });
  pushing.get_future().wait();
  queue.Close();
  ASSERT_EQ(result.wait_for(kForever), std::future_status::ready);
  EXPECT_FALSE(result.get());
  EXPECT_EQ(queue.size(), 1u);
}

TEST(BoundedQueueTest, RemovingAnItemWakesBlockedPush) {
  BoundedQueue<int> queue(1);
  ASSERT_TRUE(queue.TryPush(1));
  std::future<bool> result =
      std::async(std::launch::async, [&] { return queue.Push(2, kForever); });
  EXPECT_THAT(queue.PopAll(1), ElementsAre(1));
  ASSERT_EQ(result.wait_for(kForever), std::future_status::ready);
  EXPECT_TRUE(result.get());
  EXPECT_EQ(queue.Pop(milliseconds(0)), 2);
}

TEST(BoundedQueueTest, ClosedQueueRefusesPushesAndDrainsThenEnds) {
  BoundedQueue<int> queue(4);
  ASSERT_TRUE(queue.TryPush(1));
  ASSERT_TRUE(queue.TryPush(2));
  queue.Close();
  queue.Close();
  EXPECT_TRUE(queue.closed());
  EXPECT_FALSE(queue.TryPush(3));
  EXPECT_FALSE(queue.Push(3, kForever));
  EXPECT_EQ(queue.Pop(kForever), 1);
  EXPECT_EQ(queue.Pop(kForever), 2);
  // Empty and closed: returns at once instead of waiting out the timeout.
  EXPECT_EQ(queue.Pop(kForever), std::nullopt);
}

TEST(BoundedQueueTest, ProducersAndConsumersExchangeEveryItemExactlyOnce) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 3;
  constexpr int kItemsPerProducer = 2000;
  BoundedQueue<int> queue(8);

  std::vector<std::vector<int>> received(kConsumers);
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&queue, &mine = received[c]] {
      while (std::optional<int> item = queue.Pop(kForever)) mine.push_back(*item);
    });
  }
  std::vector<std::thread> producers;
  std::vector<int> refused(kProducers, 0);
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&queue, &refused, p] {
      for (int i = 0; i < kItemsPerProducer; ++i) {
        if (!queue.Push(p * kItemsPerProducer + i, kForever)) ++refused[p];
      }
    });
  }
  for (std::thread& producer : producers) producer.join();
  queue.Close();
  for (std::thread& consumer : consumers) consumer.join();

  EXPECT_EQ(refused, std::vector<int>(kProducers, 0));
  std::vector<int> seen(kProducers * kItemsPerProducer, 0);
  for (const std::vector<int>& items : received) {
    // Each producer's items reach any one consumer in the order they were pushed.
    std::vector<int> last(kProducers, -1);
    for (int item : items) {
      ASSERT_GE(item, 0);
      ASSERT_LT(item, kProducers * kItemsPerProducer);
      ++seen[item];
      EXPECT_GT(item, last[item / kItemsPerProducer]);
      last[item / kItemsPerProducer] = item;
    }
  }
  EXPECT_EQ(seen, std::vector<int>(kProducers * kItemsPerProducer, 1));
  EXPECT_EQ(queue.size(), 0u);
}

}  // namespace
}  // namespace resdb
