#include "platform/consensus/execution/transaction_executor.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace resdb {

TransactionExecutor::TransactionExecutor(const ResDBConfig& config,
                                         std::unique_ptr<TransactionManager> manager,
                                         ResponseCallback callback, uint64_t next_seq, Stats* stats)
    : window_(static_cast<uint64_t>(
          std::max<int32_t>(1, config.GetConfigData().max_pending_executions()))),
      manager_(std::move(manager)),
      callback_(std::move(callback)),
      owned_stats_(stats == nullptr ? std::make_unique<Stats>() : nullptr),
      next_seq_(std::max<uint64_t>(1, next_seq)),
      max_executed_seq_(next_seq_ - 1) {
  Stats* s = stats != nullptr ? stats : owned_stats_.get();
  executed_batches_ = s->GetCounter("executor_executed_batches");
  executed_requests_ = s->GetCounter("executor_executed_requests");
  duplicates_ = s->GetCounter("executor_duplicates");
  malformed_batches_ = s->GetCounter("executor_malformed_batches");
  pending_requests_ = s->GetGauge("executor_pending_requests");
  waiting_commits_ = s->GetGauge("executor_waiting_commits");
  thread_ = std::thread(&TransactionExecutor::ExecutionLoop, this);
}

TransactionExecutor::~TransactionExecutor() { Stop(); }

absl::Status TransactionExecutor::Commit(uint64_t seq, BatchUserRequest batch) {
  return Enqueue(seq, Committed{std::move(batch), /*malformed=*/false});
}

absl::Status TransactionExecutor::CommitMalformed(uint64_t seq) {
  return Enqueue(seq, Committed{BatchUserRequest(), /*malformed=*/true});
}

absl::Status TransactionExecutor::Enqueue(uint64_t seq, Committed committed) {
  std::unique_lock<std::mutex> lock(mu_);
  // Every seq below next_seq_ + window_ fits; further ones wait for the gap to execute.
  if (!stopped_ && seq >= next_seq_ + window_) {
    waiting_commits_->Add(1);
    window_cv_.wait(lock, [&] { return stopped_ || seq < next_seq_ + window_; });
    waiting_commits_->Add(-1);
  }
  if (stopped_) {
    return absl::UnavailableError(
        absl::StrCat("transaction executor is stopped; seq ", seq, " was not accepted"));
  }
  if (seq < next_seq_ || pending_.count(seq) > 0) {
    duplicates_->Increment();
    return absl::OkStatus();
  }
  pending_.emplace(seq, std::move(committed));
  pending_requests_->Set(static_cast<int64_t>(pending_.size()));
  if (seq == next_seq_) ready_cv_.notify_one();
  return absl::OkStatus();
}

void TransactionExecutor::ExecutionLoop() {
  while (true) {
    uint64_t seq = 0;
    Committed committed;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_cv_.wait(lock, [this] { return stopped_ || pending_.count(next_seq_) > 0; });
      if (stopped_) return;
      auto it = pending_.find(next_seq_);
      seq = it->first;
      committed = std::move(it->second);
      pending_.erase(it);
      pending_requests_->Set(static_cast<int64_t>(pending_.size()));
      ++next_seq_;
    }
    // The window moved by one seq: a blocked commit may fit now.
    window_cv_.notify_all();
    Execute(seq, std::move(committed));
  }
}

void TransactionExecutor::Execute(uint64_t seq, Committed committed) {
  std::unique_ptr<BatchUserResponse> response;
  if (committed.malformed) {
    malformed_batches_->Increment();
  } else {
    response = manager_->ExecuteBatch(committed.batch);
    executed_requests_->Increment(committed.batch.requests_size());
  }
  if (response == nullptr) response = std::make_unique<BatchUserResponse>();
  response->set_seq(seq);
  executed_batches_->Increment();
  if (callback_) callback_(seq, committed.batch, std::move(*response));
  {
    std::lock_guard<std::mutex> lock(mu_);
    max_executed_seq_ = std::max(max_executed_seq_, seq);
  }
  executed_cv_.notify_all();
}

void TransactionExecutor::SkipTo(uint64_t next_seq) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (next_seq <= next_seq_) return;
    pending_.erase(pending_.begin(), pending_.lower_bound(next_seq));
    pending_requests_->Set(static_cast<int64_t>(pending_.size()));
    next_seq_ = next_seq;
    max_executed_seq_ = std::max(max_executed_seq_, next_seq - 1);
  }
  window_cv_.notify_all();
  ready_cv_.notify_one();
  executed_cv_.notify_all();
}

uint64_t TransactionExecutor::GetMaxExecutedSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_executed_seq_;
}

bool TransactionExecutor::WaitForExecuted(uint64_t seq, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  executed_cv_.wait_for(lock, timeout, [&] { return stopped_ || max_executed_seq_ >= seq; });
  return max_executed_seq_ >= seq;
}

void TransactionExecutor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    pending_.clear();
    pending_requests_->Set(0);
  }
  ready_cv_.notify_all();
  window_cv_.notify_all();
  executed_cv_.notify_all();
  if (std::this_thread::get_id() == thread_.get_id()) return;
  std::lock_guard<std::mutex> lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

absl::Status CommitSerializedBatch(TransactionExecutor* executor, uint64_t seq,
                                   const std::string& data) {
  BatchUserRequest batch;
  if (!batch.ParseFromString(data)) return executor->CommitMalformed(seq);
  return executor->Commit(seq, std::move(batch));
}

}  // namespace resdb
