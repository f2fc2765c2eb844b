#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_CONSENSUS_MANAGER_PBFT_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_CONSENSUS_MANAGER_PBFT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "platform/common/bounded_queue.h"
#include "platform/config/resdb_config.h"
#include "platform/consensus/execution/transaction_executor.h"
#include "platform/consensus/execution/transaction_manager.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/consensus/ordering/raft/client_request_tracker.h"
#include "platform/networkstrate/consensus_manager.h"
#include "platform/statistic/stats.h"

namespace resdb {

// PBFT behind the shared transport: orders client requests through a pbft::PbftReplica,
// runs what commits through a TransactionExecutor (seq = PBFT sequence number) and answers
// clients after execution.
//
// Threads. One protocol thread owns the PbftReplica. Transport threads hand it work (PBFT
// messages, client requests) through a bounded queue; the executor thread hands it the
// executed seqs. The thread sleeps on a condition variable until work arrives or the next
// tick (heartbeat_interval_ms) is due.
//
// Requests. Every client request, reads included, is ordered. A backup forwards it to the
// primary over the replica stream (proxy_id = self) and keeps the client's Context; the
// primary proposes the requests that arrived in one round as BatchUserRequests of up to
// client_batch_num requests. The replica holding the Context answers it from its own
// execution of the batch; a request not answered within client_timeout_ms gets TIMEOUT.
//
// Checkpoints use a running SHA-256 chain over the executed batches' responses as the
// state digest.
class ConsensusManagerPBFT : public ConsensusManager {
 public:
  // `transaction_manager` must not be null; `stats` may be null.
  ConsensusManagerPBFT(const ResDBConfig& config,
                       std::unique_ptr<TransactionManager> transaction_manager,
                       Stats* stats = nullptr);
  ~ConsensusManagerPBFT() override;

  absl::Status Start() override;
  void Stop() override;

  int ConsensusCommit(std::unique_ptr<Context> context, std::unique_ptr<Request> request) override;
  int64_t GetPrimary() override { return primary_.load(); }
  uint64_t GetVersion() override { return view_.load(); }
  ReplicaStatus GetStatus() override;

  // The highest seq executed by this replica.
  uint64_t executed_seq() const { return executed_seq_.load(); }

 protected:
  // PBFT progress comes from its own messages and ticks.
  void HeartBeat() override {}

 private:
  using Clock = std::chrono::steady_clock;

  struct Work {
    enum Kind { kMessage, kWrite, kExecuted };
    Kind kind = kMessage;
    Request message;
    UserRequest request;
    uint64_t seq = 0;
    std::string digest;
  };

  bool Enqueue(Work work);
  Response MakeResponse(Response::Status status, const std::string& error) const;
  void HandleClientRequest(std::unique_ptr<Context> context, std::unique_ptr<Request> request);

  // Protocol thread.
  void Loop();
  void HandleWork(Work& work);
  void RouteWrite(const UserRequest& request);
  void ProposePending();
  void DrainActions();
  void PublishState();

  // Executor thread.
  void OnExecuted(std::unique_ptr<Request> request, std::unique_ptr<BatchUserResponse> response);

  const int64_t self_id_;
  const std::chrono::milliseconds tick_;
  const std::chrono::milliseconds client_timeout_;
  const size_t batch_limit_;

  pbft::PbftReplica replica_;  // protocol thread only
  raft::ClientRequestTracker tracker_;
  std::unique_ptr<TransactionExecutor> executor_;

  BoundedQueue<Work> queue_;
  std::mutex lifecycle_mu_;
  bool stopping_ = false;  // guarded by lifecycle_mu_
  bool started_ = false;   // guarded by lifecycle_mu_
  std::atomic<bool> stopping_flag_{false};
  std::thread thread_;

  // Protocol thread only.
  std::vector<UserRequest> pending_proposals_;
  int64_t last_primary_ = 0;

  // Executor thread only.
  std::string state_digest_;

  // Published for other threads.
  std::atomic<int64_t> primary_{0};
  std::atomic<uint64_t> view_{0};
  std::atomic<bool> is_primary_{false};
  std::atomic<uint64_t> stable_checkpoint_{0};
  std::atomic<uint64_t> executed_seq_{0};

  Counter* proposals_;
  Counter* proposed_requests_;
  Counter* forwarded_requests_;
  Counter* queue_dropped_;
  Counter* rejected_messages_;
  Counter* request_timeouts_;
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_CONSENSUS_MANAGER_PBFT_H_
