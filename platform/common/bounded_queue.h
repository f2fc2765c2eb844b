#ifndef PLATFORM_COMMON_BOUNDED_QUEUE_H_
#define PLATFORM_COMMON_BOUNDED_QUEUE_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace resdb {

// A first-in first-out queue holding at most `capacity` items, shared by any number of
// producer and consumer threads. After Close, pushes fail and pops drain what is left, then
// return nothing. A queue of capacity 0 refuses every push.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Appends `item` if there is room. False when the queue is full or closed.
  bool TryPush(T item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    not_empty_.notify_one();
    return true;
  }

  // Appends `item`, waiting up to `timeout` for room. False if the deadline passes first or
  // the queue is (or becomes) closed.
  bool Push(T item, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!not_full_.wait_until(lock, deadline,
                                [this] { return closed_ || items_.size() < capacity_; })) {
        return false;
      }
      if (closed_) return false;
      items_.push_back(std::move(item));
    }
    not_empty_.notify_one();
    return true;
  }

  // Removes the oldest item, waiting up to `timeout` for one. Nothing if the deadline passes
  // first, or if the queue is closed and empty.
  std::optional<T> Pop(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<T> item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!not_empty_.wait_until(lock, deadline, [this] { return closed_ || !items_.empty(); })) {
        return std::nullopt;
      }
      if (items_.empty()) return std::nullopt;
      item.emplace(std::move(items_.front()));
      items_.pop_front();
    }
    not_full_.notify_one();
    return item;
  }

  // Waits until an item is queued, the queue is closed, or `deadline` passes. False once the
  // queue is closed (items still queued are left for PopAll), true otherwise.
  bool WaitForItems(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait_until(lock, deadline, [this] { return closed_ || !items_.empty(); });
    return !closed_;
  }

  // Removes and returns up to `max_items` of the oldest items, oldest first, without waiting.
  std::vector<T> PopAll(size_t max_items) {
    std::vector<T> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const size_t count = std::min(max_items, items_.size());
      out.reserve(count);
      for (size_t i = 0; i < count; ++i) {
        out.push_back(std::move(items_.front()));
        items_.pop_front();
      }
    }
    if (!out.empty()) not_full_.notify_all();
    return out;
  }

  // Refuses further pushes and wakes every waiting Push and Pop. Idempotent.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }

  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace resdb

#endif  // PLATFORM_COMMON_BOUNDED_QUEUE_H_
