#include "platform/consensus/execution/transaction_executor.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace resdb {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kDeadline(10000);

// What the state machine and the callback observed, shared between the test and the
// execution thread.
struct Record {
  std::mutex mu;
  std::vector<std::string> executed;         // ExecuteData payloads, in call order
  std::vector<uint64_t> callback_seqs;       // request->seq() per callback
  std::vector<uint64_t> response_seqs;       // response->seq() per callback
  std::vector<int> response_counts;          // responses per callback
  std::vector<std::string> first_responses;  // first response per callback, or ""
  std::vector<int> batch_sizes;              // requests of the batch per callback

  std::vector<std::string> Executed() {
    std::lock_guard<std::mutex> lock(mu);
    return executed;
  }
};

class RecordingManager : public TransactionManager {
 public:
  explicit RecordingManager(std::shared_ptr<Record> record) : record_(std::move(record)) {}

  std::unique_ptr<std::string> ExecuteData(const std::string& request) override {
    std::lock_guard<std::mutex> lock(record_->mu);
    record_->executed.push_back(request);
    return std::make_unique<std::string>("ok:" + request);
  }

 private:
  std::shared_ptr<Record> record_;
};

ResDBConfig MakeConfig(int window) {
  ResConfigData data;
  data.set_allow_plaintext(true);
  data.set_max_pending_executions(window);
  return ResDBConfig(data, 0);
}

// A committed batch holding one request with payload "req-<seq>".
BatchUserRequest MakeBatch(uint64_t seq) {
  BatchUserRequest batch;
  batch.add_requests()->set_data(absl::StrCat("req-", seq));
  return batch;
}

std::vector<std::string> ExpectedPayloads(uint64_t first, uint64_t last) {
  std::vector<std::string> payloads;
  for (uint64_t seq = first; seq <= last; ++seq) payloads.push_back(absl::StrCat("req-", seq));
  return payloads;
}

// Polls `condition` until it holds or the deadline passes.
bool WaitUntil(const std::function<bool()>& condition, milliseconds deadline = kDeadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::yield();
  }
  return true;
}

class TransactionExecutorTest : public ::testing::Test {
 protected:
  std::unique_ptr<TransactionExecutor> MakeExecutor(int window, uint64_t next_seq = 1) {
    return std::make_unique<TransactionExecutor>(
        MakeConfig(window), std::make_unique<RecordingManager>(record_),
        [record = record_](uint64_t seq, const BatchUserRequest& batch,
                           BatchUserResponse responses) {
          std::lock_guard<std::mutex> lock(record->mu);
          record->callback_seqs.push_back(seq);
          record->response_seqs.push_back(responses.seq());
          record->response_counts.push_back(responses.responses_size());
          record->first_responses.push_back(responses.responses_size() > 0 ? responses.responses(0)
                                                                           : "");
          record->batch_sizes.push_back(batch.requests_size());
        },
        next_seq, &stats_);
  }

  std::shared_ptr<Record> record_ = std::make_shared<Record>();
  Stats stats_;
};

TEST_F(TransactionExecutorTest, SkipToMovesPastAGapAnInstalledSnapshotCovers) {
  auto executor = MakeExecutor(/*window=*/100);
  ASSERT_TRUE(executor->Commit(1, MakeBatch(1)).ok());
  ASSERT_TRUE(executor->WaitForExecuted(1, kDeadline));
  // Seqs 2..5 come from a snapshot; 4 was committed before it and must not run.
  ASSERT_TRUE(executor->Commit(4, MakeBatch(4)).ok());
  ASSERT_TRUE(executor->Commit(7, MakeBatch(7)).ok());
  executor->SkipTo(6);
  EXPECT_EQ(executor->GetMaxExecutedSeq(), 5u);
  EXPECT_TRUE(executor->WaitForExecuted(5, kDeadline));
  ASSERT_TRUE(executor->Commit(3, MakeBatch(3)).ok());  // below: dropped as done
  ASSERT_TRUE(executor->Commit(6, MakeBatch(6)).ok());
  ASSERT_TRUE(executor->WaitForExecuted(7, kDeadline));
  EXPECT_EQ(record_->Executed(), (std::vector<std::string>{"req-1", "req-6", "req-7"}));
  executor->SkipTo(3);  // behind: no effect
  EXPECT_EQ(executor->GetMaxExecutedSeq(), 7u);
}

TEST_F(TransactionExecutorTest, ShuffledCommitsFromSeveralThreadsExecuteInOrderOnce) {
  constexpr uint64_t kCount = 400;
  constexpr int kThreads = 4;
  auto executor = MakeExecutor(/*window=*/10000);

  std::vector<uint64_t> seqs;
  for (uint64_t seq = 1; seq <= kCount; ++seq) seqs.push_back(seq);
  std::shuffle(seqs.begin(), seqs.end(), std::mt19937(20240611));

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < seqs.size(); i += kThreads) {
        EXPECT_TRUE(executor->Commit(seqs[i], MakeBatch(seqs[i])).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  ASSERT_TRUE(executor->WaitForExecuted(kCount, kDeadline));
  EXPECT_EQ(executor->GetMaxExecutedSeq(), kCount);
  EXPECT_EQ(record_->Executed(), ExpectedPayloads(1, kCount));
  std::vector<uint64_t> in_order(kCount);
  for (uint64_t i = 0; i < kCount; ++i) in_order[i] = i + 1;
  {
    std::lock_guard<std::mutex> lock(record_->mu);
    EXPECT_EQ(record_->callback_seqs, in_order);
    EXPECT_EQ(record_->response_seqs, in_order);
    EXPECT_EQ(record_->first_responses.front(), "ok:req-1");
    EXPECT_EQ(record_->first_responses.back(), absl::StrCat("ok:req-", kCount));
  }
  EXPECT_EQ(stats_.CounterValue("executor_executed_batches"), kCount);
  EXPECT_EQ(stats_.CounterValue("executor_executed_requests"), kCount);
  EXPECT_EQ(stats_.CounterValue("executor_duplicates"), 0u);
}

TEST_F(TransactionExecutorTest, SmallWindowWithConcurrentCommittersMakesProgress) {
  constexpr uint64_t kCount = 300;
  constexpr int kThreads = 3;
  auto executor = MakeExecutor(/*window=*/4);

  // Each seq goes to a random thread; each thread commits its own seqs in ascending order, as
  // a consensus thread would. Whoever owns the next seq is never blocked, so all complete.
  std::vector<std::vector<uint64_t>> per_thread(kThreads);
  std::mt19937 rng(7);
  for (uint64_t seq = 1; seq <= kCount; ++seq) per_thread[rng() % kThreads].push_back(seq);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t seq : per_thread[t]) EXPECT_TRUE(executor->Commit(seq, MakeBatch(seq)).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();

  ASSERT_TRUE(executor->WaitForExecuted(kCount, kDeadline));
  EXPECT_EQ(record_->Executed(), ExpectedPayloads(1, kCount));
}

TEST_F(TransactionExecutorTest, DuplicateCommitsAreDroppedAndCounted) {
  auto executor = MakeExecutor(/*window=*/100);
  ASSERT_TRUE(executor->Commit(1, MakeBatch(1)).ok());
  ASSERT_TRUE(executor->Commit(2, MakeBatch(2)).ok());
  ASSERT_TRUE(executor->WaitForExecuted(2, kDeadline));

  // 1 and 2 are executed; 4 is pending when its second copy arrives.
  EXPECT_TRUE(executor->Commit(1, MakeBatch(1)).ok());
  EXPECT_TRUE(executor->Commit(2, MakeBatch(2)).ok());
  ASSERT_TRUE(executor->Commit(4, MakeBatch(4)).ok());
  BatchUserRequest other;
  other.add_requests()->set_data("impostor");
  EXPECT_TRUE(executor->Commit(4, std::move(other)).ok());
  ASSERT_TRUE(executor->Commit(3, MakeBatch(3)).ok());

  ASSERT_TRUE(executor->WaitForExecuted(4, kDeadline));
  EXPECT_EQ(record_->Executed(), ExpectedPayloads(1, 4));
  EXPECT_EQ(stats_.CounterValue("executor_duplicates"), 3u);
  EXPECT_EQ(stats_.CounterValue("executor_executed_batches"), 4u);
}

TEST_F(TransactionExecutorTest, MalformedBatchConsumesItsSeqWithNoResponses) {
  auto executor = MakeExecutor(/*window=*/100);
  ASSERT_TRUE(executor->Commit(2, MakeBatch(2)).ok());
  ASSERT_TRUE(executor->CommitMalformed(1).ok());
  ASSERT_TRUE(executor->WaitForExecuted(2, kDeadline));

  EXPECT_EQ(record_->Executed(), ExpectedPayloads(2, 2));
  std::lock_guard<std::mutex> lock(record_->mu);
  EXPECT_EQ(record_->callback_seqs, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(record_->response_seqs, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(record_->response_counts, (std::vector<int>{0, 1}));
  EXPECT_EQ(record_->batch_sizes, (std::vector<int>{0, 1}));
  EXPECT_EQ(stats_.CounterValue("executor_malformed_batches"), 1u);
  EXPECT_EQ(stats_.CounterValue("executor_executed_batches"), 2u);
}

TEST_F(TransactionExecutorTest, SerializedBatchesAreParsedOnceAndBadDataIsMalformed) {
  auto executor = MakeExecutor(/*window=*/100);
  ASSERT_TRUE(CommitSerializedBatch(executor.get(), 1, MakeBatch(1).SerializeAsString()).ok());
  ASSERT_TRUE(CommitSerializedBatch(executor.get(), 2, "").ok());
  ASSERT_TRUE(CommitSerializedBatch(executor.get(), 3, "\xff\xff").ok());
  ASSERT_TRUE(executor->WaitForExecuted(3, kDeadline));

  EXPECT_EQ(record_->Executed(), ExpectedPayloads(1, 1));
  std::lock_guard<std::mutex> lock(record_->mu);
  EXPECT_EQ(record_->batch_sizes, (std::vector<int>{1, 0, 0}));
  EXPECT_EQ(stats_.CounterValue("executor_malformed_batches"), 1u);
}

TEST_F(TransactionExecutorTest, CommitBeyondWindowBlocksUntilGapExecutes) {
  auto executor = MakeExecutor(/*window=*/2);
  // With next seq 1 the window holds seqs 1 and 2.
  ASSERT_TRUE(executor->Commit(2, MakeBatch(2)).ok());
  std::future<absl::Status> far =
      std::async(std::launch::async, [&] { return executor->Commit(3, MakeBatch(3)); });
  ASSERT_TRUE(WaitUntil([&] { return stats_.GaugeValue("executor_waiting_commits") == 1; }));
  EXPECT_EQ(far.wait_for(milliseconds(0)), std::future_status::timeout);
  EXPECT_EQ(executor->GetMaxExecutedSeq(), 0u);

  // The next seq is accepted even though the window is full, and unblocks seq 3.
  ASSERT_TRUE(executor->Commit(1, MakeBatch(1)).ok());
  ASSERT_EQ(far.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(far.get().ok());
  ASSERT_TRUE(executor->WaitForExecuted(3, kDeadline));
  EXPECT_EQ(record_->Executed(), ExpectedPayloads(1, 3));
  EXPECT_EQ(stats_.GaugeValue("executor_waiting_commits"), 0);
}

TEST_F(TransactionExecutorTest, StartsAtNextSeqAndTreatsEarlierSeqsAsExecuted) {
  auto executor = MakeExecutor(/*window=*/100, /*next_seq=*/5);
  EXPECT_EQ(executor->GetMaxExecutedSeq(), 4u);
  EXPECT_TRUE(executor->WaitForExecuted(4, milliseconds(0)));

  ASSERT_TRUE(executor->Commit(3, MakeBatch(3)).ok());
  ASSERT_TRUE(executor->Commit(6, MakeBatch(6)).ok());
  ASSERT_TRUE(executor->Commit(5, MakeBatch(5)).ok());
  ASSERT_TRUE(executor->WaitForExecuted(6, kDeadline));

  EXPECT_EQ(record_->Executed(), ExpectedPayloads(5, 6));
  EXPECT_EQ(stats_.CounterValue("executor_duplicates"), 1u);
}

TEST_F(TransactionExecutorTest, StopUnblocksWaitersWithAnError) {
  auto executor = MakeExecutor(/*window=*/1);
  std::future<absl::Status> blocked =
      std::async(std::launch::async, [&] { return executor->Commit(3, MakeBatch(3)); });
  std::future<bool> waiter =
      std::async(std::launch::async, [&] { return executor->WaitForExecuted(3, kDeadline); });
  ASSERT_TRUE(WaitUntil([&] { return stats_.GaugeValue("executor_waiting_commits") == 1; }));

  executor->Stop();

  ASSERT_EQ(blocked.wait_for(kDeadline), std::future_status::ready);
  absl::Status status = blocked.get();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  ASSERT_EQ(waiter.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(waiter.get());
  EXPECT_EQ(executor->Commit(1, MakeBatch(1)).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(executor->WaitForExecuted(1, milliseconds(0)));
  executor->Stop();  // idempotent
  EXPECT_TRUE(record_->Executed().empty());
}

TEST_F(TransactionExecutorTest, WaitForExecutedTimesOutWhileGapRemains) {
  auto executor = MakeExecutor(/*window=*/10);
  ASSERT_TRUE(executor->Commit(2, MakeBatch(2)).ok());
  EXPECT_FALSE(executor->WaitForExecuted(2, milliseconds(20)));
  EXPECT_EQ(executor->GetMaxExecutedSeq(), 0u);
  EXPECT_TRUE(record_->Executed().empty());
}

}  // namespace
}  // namespace resdb
