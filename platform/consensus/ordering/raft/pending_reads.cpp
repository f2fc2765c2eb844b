#include "platform/consensus/ordering/raft/pending_reads.h"

#include <algorithm>
#include <utility>

namespace resdb {
namespace raft {

uint64_t PendingReads::Add(std::unique_ptr<Context> context, std::string data,
                           Clock::time_point deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  Read& read = reads_[id];
  read.context = std::move(context);
  read.data = std::move(data);
  read.deadline = deadline;
  return id;
}

PendingReads::Read PendingReads::TakeLocked(std::map<uint64_t, Read>::iterator it) {
  Read read = std::move(it->second);
  if (read.index != 0) {
    auto range = waiting_.equal_range(read.index);
    for (auto w = range.first; w != range.second; ++w) {
      if (w->second == it->first) {
        waiting_.erase(w);
        break;
      }
    }
  }
  reads_.erase(it);
  return read;
}

void PendingReads::SetIndex(uint64_t id, uint64_t index) {
  Read ready;
  uint64_t applied = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = reads_.find(id);
    if (it == reads_.end() || it->second.index != 0) return;
    // Compared under the lock SetApplied raises the index under, so a read is either served
    // here or found waiting by SetApplied.
    if (applied_ < index) {
      it->second.index = std::max<uint64_t>(index, 1);
      waiting_.emplace(it->second.index, id);
      return;
    }
    applied = applied_;
    ready = TakeLocked(it);
  }
  serve_(std::move(ready.context), ready.data, applied);
}

void PendingReads::Fail(uint64_t id, const Response& response) {
  Read read;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = reads_.find(id);
    if (it == reads_.end()) return;
    read = TakeLocked(it);
  }
  read.context->Reply(response);
}

void PendingReads::SetApplied(uint64_t applied) {
  std::vector<Read> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    applied_ = std::max(applied_, applied);
    while (!waiting_.empty() && waiting_.begin()->first <= applied_) {
      auto it = reads_.find(waiting_.begin()->second);
      waiting_.erase(waiting_.begin());
      if (it == reads_.end()) continue;
      ready.push_back(std::move(it->second));
      reads_.erase(it);
    }
    applied = applied_;
  }
  for (Read& read : ready) serve_(std::move(read.context), read.data, applied);
}

size_t PendingReads::Expire(Clock::time_point now, const Response& response) {
  std::vector<Read> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = reads_.begin(); it != reads_.end();) {
      auto next = std::next(it);
      if (it->second.deadline <= now) expired.push_back(TakeLocked(it));
      it = next;
    }
  }
  for (Read& read : expired) read.context->Reply(response);
  return expired.size();
}

void PendingReads::FailAll(const Response& response) {
  std::map<uint64_t, Read> reads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reads.swap(reads_);
    waiting_.clear();
  }
  for (auto& [id, read] : reads) read.context->Reply(response);
}

size_t PendingReads::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reads_.size();
}

}  // namespace raft
}  // namespace resdb
