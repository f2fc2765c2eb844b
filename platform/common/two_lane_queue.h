#ifndef PLATFORM_COMMON_TWO_LANE_QUEUE_H_
#define PLATFORM_COMMON_TWO_LANE_QUEUE_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

namespace resdb {

// The work of one consensus thread, in two bounded first-in first-out lanes: replica traffic
// (votes, appends, heartbeats, certificates) and client work. Each lane has its own capacity,
// so a flood of client requests can fill only its own lane and never crowds out the messages
// that keep the protocol alive; and the consumer takes replica traffic first, with a bounded
// share of client work per round. Any number of producers, one consumer. After Close, pushes
// fail and the consumer drains what is left.
template <typename T>
class TwoLaneQueue {
 public:
  enum class Lane { kReplica, kClient };

  TwoLaneQueue(size_t replica_capacity, size_t client_capacity)
      : capacity_{replica_capacity, client_capacity} {}

  TwoLaneQueue(const TwoLaneQueue&) = delete;
  TwoLaneQueue& operator=(const TwoLaneQueue&) = delete;

  // Appends `item` to `lane` if it has room. False when that lane is full or the queue closed.
  bool TryPush(Lane lane, T item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::deque<T>& items = lanes_[Index(lane)];
      if (closed_ || items.size() >= capacity_[Index(lane)]) return false;
      items.push_back(std::move(item));
    }
    not_empty_.notify_one();
    return true;
  }

  // Waits until an item is queued in either lane, the queue is closed, or `deadline` passes.
  // False once the queue is closed (what is still queued is left for PopRound), true otherwise.
  bool WaitForItems(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait_until(lock, deadline,
                          [this] { return closed_ || !lanes_[0].empty() || !lanes_[1].empty(); });
    return !closed_;
  }

  // Removes and returns, without waiting, up to `max_replica` replica items and then up to
  // `max_client` client items, each lane oldest first.
  std::vector<T> PopRound(size_t max_replica, size_t max_client) {
    std::vector<T> out;
    std::lock_guard<std::mutex> lock(mu_);
    Take(&lanes_[Index(Lane::kReplica)], max_replica, &out);
    Take(&lanes_[Index(Lane::kClient)], max_client, &out);
    return out;
  }

  // Refuses further pushes and wakes the consumer. Idempotent.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    not_empty_.notify_all();
  }

  size_t size(Lane lane) const {
    std::lock_guard<std::mutex> lock(mu_);
    return lanes_[Index(lane)].size();
  }

 private:
  static size_t Index(Lane lane) { return lane == Lane::kReplica ? 0 : 1; }

  static void Take(std::deque<T>* items, size_t max_items, std::vector<T>* out) {
    const size_t count = std::min(max_items, items->size());
    for (size_t i = 0; i < count; ++i) {
      out->push_back(std::move(items->front()));
      items->pop_front();
    }
  }

  const size_t capacity_[2];
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::deque<T> lanes_[2];
  bool closed_ = false;
};

}  // namespace resdb

#endif  // PLATFORM_COMMON_TWO_LANE_QUEUE_H_
