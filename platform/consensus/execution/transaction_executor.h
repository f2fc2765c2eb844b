#ifndef PLATFORM_CONSENSUS_EXECUTION_TRANSACTION_EXECUTOR_H_
#define PLATFORM_CONSENSUS_EXECUTION_TRANSACTION_EXECUTOR_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "platform/config/resdb_config.h"
#include "platform/consensus/execution/transaction_manager.h"
#include "platform/proto/resdb.pb.h"
#include "platform/statistic/stats.h"

namespace resdb {

// Executes committed batches through a TransactionManager strictly in sequence order,
// exactly once each, on one dedicated thread. Consensus protocols hand it what they commit,
// in whatever order and from whatever threads they commit it.
//
// Sequence numbers start at 1. Metrics (in the Stats passed in, or a private one):
//   executor_executed_batches, executor_executed_requests: work done;
//   executor_duplicates: commits dropped because their seq was executed or already pending;
//   executor_malformed_batches: seqs whose data did not parse as a BatchUserRequest;
//   executor_pending_requests (gauge): requests held ahead of the next seq;
//   executor_waiting_commits (gauge): Commit calls blocked by the execution window.
//
// Thread-safe.
class TransactionExecutor {
 public:
  // Called once per executed seq, in sequence order, on the execution thread, with the
  // committed batch and its responses (responses.seq() == seq; a malformed batch comes as an
  // empty one). It must not wait for the executor (Commit of a later seq, WaitForExecuted,
  // destruction): the executor waits for it to return before it runs the next seq.
  using ResponseCallback =
      std::function<void(uint64_t seq, const BatchUserRequest& batch, BatchUserResponse responses)>;

  // `next_seq` is the first seq to execute (a restarted replica passes its last applied seq
  // + 1); lower seqs count as already executed. The window is the config's
  // max_pending_executions. `stats` may be null; when set it must outlive the executor.
  // `callback` may be empty.
  TransactionExecutor(const ResDBConfig& config, std::unique_ptr<TransactionManager> manager,
                      ResponseCallback callback, uint64_t next_seq = 1, Stats* stats = nullptr);
  // Stops (see Stop) and joins the execution thread.
  ~TransactionExecutor();

  TransactionExecutor(const TransactionExecutor&) = delete;
  TransactionExecutor& operator=(const TransactionExecutor&) = delete;

  // Hands over the batch committed at position `seq`. Returns OK once the batch is queued, or
  // when it is dropped as a duplicate (its seq already executed or already pending: the first
  // commit of a seq wins).
  //
  // Backpressure: at most max_pending_executions seqs are held, those in
  // [next unexecuted seq, next unexecuted seq + window). A seq beyond that blocks until the
  // gap before it is executed; the next unexecuted seq itself is always accepted at once.
  //
  // Errors: UnavailableError once Stop has been called, including for a Commit that was
  // blocked when Stop came.
  absl::Status Commit(uint64_t seq, BatchUserRequest batch);
  // As Commit, for a seq whose committed data is not a BatchUserRequest: it still takes its
  // seq, so every replica stays at the same position, and yields no responses.
  absl::Status CommitMalformed(uint64_t seq);

  // Moves execution forward to `next_seq` after the state was replaced by a snapshot covering
  // every seq below it: pending commits below it are dropped and GetMaxExecutedSeq() becomes
  // next_seq - 1. A no-op unless next_seq is ahead of the next seq to execute. Call it only
  // while nothing below next_seq is executing (wait with WaitForExecuted first).
  void SkipTo(uint64_t next_seq);

  // The highest seq executed so far (next_seq - 1 before anything ran). Every lower seq has
  // been executed too.
  uint64_t GetMaxExecutedSeq() const;

  // Waits until `seq` has been executed and its callback has returned. Returns false on
  // timeout or when the executor stops first.
  bool WaitForExecuted(uint64_t seq, std::chrono::milliseconds timeout);

  // Local read-only access for Query; the executor keeps ownership.
  TransactionManager* GetTransactionManager() const { return manager_.get(); }

  // Stops executing: the batch in progress finishes, pending requests are dropped (the
  // consensus log still holds them), and blocked Commit/WaitForExecuted calls return with an
  // error. Idempotent. May be called from the callback; it then returns without joining.
  void Stop();

 private:
  struct Committed {
    BatchUserRequest batch;
    bool malformed = false;
  };

  absl::Status Enqueue(uint64_t seq, Committed committed);
  void ExecutionLoop();
  // Runs one committed batch through the manager and reports it.
  void Execute(uint64_t seq, Committed committed);

  const uint64_t window_;
  std::unique_ptr<TransactionManager> manager_;
  ResponseCallback callback_;

  std::unique_ptr<Stats> owned_stats_;
  Counter* executed_batches_;
  Counter* executed_requests_;
  Counter* duplicates_;
  Counter* malformed_batches_;
  Gauge* pending_requests_;
  Gauge* waiting_commits_;

  mutable std::mutex mu_;
  // Signals the execution thread: the next seq arrived, or Stop.
  std::condition_variable ready_cv_;
  // Signals blocked committers: the window moved, or Stop.
  std::condition_variable window_cv_;
  // Signals WaitForExecuted: a seq finished, or Stop.
  std::condition_variable executed_cv_;
  // Batches committed but not yet taken by the execution thread, keyed by seq; every key is
  // in [next_seq_, next_seq_ + window_).
  std::map<uint64_t, Committed> pending_;
  // The next seq the execution thread takes; everything below it is executed or executing.
  uint64_t next_seq_;
  // The highest seq whose execution and callback have finished.
  uint64_t max_executed_seq_;
  bool stopped_ = false;

  std::mutex join_mu_;
  std::thread thread_;
};

// Commits the serialized BatchUserRequest a protocol ordered (`data`; empty: an empty batch)
// at `seq`, parsed here once; data that does not parse takes its seq as a malformed batch.
absl::Status CommitSerializedBatch(TransactionExecutor* executor, uint64_t seq,
                                   const std::string& data);

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_EXECUTION_TRANSACTION_EXECUTOR_H_
