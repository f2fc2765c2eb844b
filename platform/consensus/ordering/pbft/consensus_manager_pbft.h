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
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/common/crypto/signature.h"
#include "platform/common/two_lane_queue.h"
#include "platform/config/resdb_config.h"
#include "platform/consensus/execution/client_request_verifier.h"
#include "platform/consensus/execution/transaction_executor.h"
#include "platform/consensus/execution/transaction_manager.h"
#include "platform/consensus/ordering/pbft/ledger_reader.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/consensus/ordering/pbft/pbft_wal.h"
#include "platform/consensus/ordering/pbft/recent_proposals.h"
#include "platform/consensus/replica/apply_recorder.h"
#include "platform/consensus/replica/client_sessions.h"
#include "platform/consensus/replica/protocol_thread.h"
#include "platform/networkstrate/consensus_manager.h"
#include "platform/statistic/stats.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/staged_storage.h"
#include "platform/storage/storage.h"

namespace resdb {

// PBFT behind the shared transport: orders client requests through a pbft::PbftReplica,
// runs what commits through a TransactionExecutor (seq = PBFT sequence number) and answers
// clients after execution. Client calls are kept by ClientSessions and executed batches
// recorded by an ApplyRecorder, as under RAFT.
//
// Threads. One protocol thread owns the PbftReplica. Transport threads hand it work (PBFT
// messages, client requests) through a TwoLaneQueue, replica traffic and client requests in
// lanes bounded apart so a client flood cannot crowd out the protocol's messages; the
// executor thread hands it the executed seqs. The thread sleeps on a condition variable until
// work arrives or the next tick (min(heartbeat_interval_ms, view_change_timeout_ms / 10)) is
// due.
//
// Requests. Every client request, reads included, is ordered. Clients send each request to
// f+1 replicas (to all of them when those do not agree) and accept a result once f+1 replicas
// return the same one. The primary proposes its copy; a backup keeps the client's Context and
// forwards the request to the primary over the replica stream (proxy_id = self) only if it is
// still waiting two ticks later (every two ticks after that). The primary drops copies of a
// request it proposed recently (RecentProposals) and proposes the requests that arrived in
// one round as BatchUserRequests of up to client_batch_num requests and max_batch_bytes
// (BatchCutter). Every replica holding a Context for a request answers it from its own
// execution of the batch; a request not answered within client_timeout_ms gets TIMEOUT. A request ordered twice (a client retry after a view change) is executed once: the
// applied-request table answers the second time with the first response.
//
// Durability. Before the messages of a round are sent, its durable records (view, accepted
// and prepared batches, stable checkpoint, and the committed batches as ledger entries) are
// written to the PbftWal in one synced write. The ApplyRecorder writes the applied-request
// table, the executed seq and the state digest with each execution, in one write with the
// batch's service state when the service writes through `staged_state` (as kv_service does),
// so a crash never leaves the state without the record that it was applied. A restarted replica
// re-executes its ledger after the executed seq and asks its peers for what it missed (see
// PbftReplica).
//
// Checkpoints use a running SHA-256 chain over the executed batches' responses as the
// state digest.
class ConsensusManagerPBFT : public ConsensusManager {
 public:
  // Opens the replica's PBFT records under the "pbft_" prefix of `storage` (registered in
  // `prefixes`) and restores from them. `storage` and `prefixes` must outlive the manager;
  // `stats` may be null. Errors name what could not be opened or decoded.
  // `staged_state`, if set, is the storage the service writes through: a StagedStorage over
  // the kUserDataPrefix view of `storage`, committed with each batch's records.
  static absl::StatusOr<std::unique_ptr<ConsensusManagerPBFT>> Create(
      const ResDBConfig& config, std::unique_ptr<TransactionManager> transaction_manager,
      Storage* storage, PrefixAllocator* prefixes, Stats* stats = nullptr,
      StagedStorage* staged_state = nullptr);
  ~ConsensusManagerPBFT() override;

  absl::Status Start() override;
  void Stop() override;

  int OnClientCall(std::unique_ptr<Context> context, std::unique_ptr<Request> request) override;
  int OnReplicaMessage(std::unique_ptr<Request> request, ResDBMessage envelope) override;
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
    // The bytes and signature `message` arrived in (kMessage).
    pbft::SignedMessage envelope;
    UserRequest request;
    uint64_t seq = 0;
    std::string digest;
  };

  struct Metrics {
    explicit Metrics(Stats* stats);
    Counter* proposals;
    Counter* proposed_requests;
    Counter* forwarded_requests;
    Counter* queue_dropped;
    Counter* rejected_messages;
    // Client requests (from clients, forwarded by replicas, or in a primary's batch) refused
    // because their client's signature does not verify.
    Counter* unsigned_requests;
    Counter* request_timeouts;
    Counter* wal_writes;
    Counter* duplicate_proposals;
  };

  ConsensusManagerPBFT(const ResDBConfig& config, Stats* stats);
  absl::Status Open(std::unique_ptr<TransactionManager> transaction_manager, Storage* storage,
                    PrefixAllocator* prefixes, StagedStorage* staged_state);

  // Replica traffic and the protocol thread's own events never wait behind client work.
  static TwoLaneQueue<Work>::Lane LaneOf(Work::Kind kind);
  bool Enqueue(Work work);
  Response MakeResponse(Response::Status status, const std::string& error) const;
  // Answers a LogQuery from the ledger (any thread).
  Response AnswerLogQuery(const Request& request);
  void HandleClientRequest(std::unique_ptr<Context> context, std::unique_ptr<Request> request);
  // A client request another replica forwards to this one as primary.
  int HandleForwardedRequest(std::unique_ptr<Request> request);

  // Protocol thread.
  void Loop();
  void HandleWork(Work& work);
  void OnTick(Clock::time_point now);
  void RouteWrite(const UserRequest& request);
  void ProposePending();
  void DrainActions();
  // Hands the ledger entries after the executed seq to the executor again after a restart.
  void ReplayLedger();
  void AnswerFetch(const Request& fetch);
  void PublishState();

  // Executor thread.
  void OnExecuted(uint64_t seq, const BatchUserRequest& batch, BatchUserResponse responses);

  const int64_t self_id_;
  const std::chrono::milliseconds tick_;
  // With require_signatures, every client request must carry its client's signature.
  const bool verify_clients_;
  Metrics metrics_;

  // Replica public keys for the evidence the replica checks; set in Open(), read by the
  // protocol thread only after that. Null without require_signatures.
  std::unique_ptr<Verifier> replica_keys_;
  pbft::PbftReplica replica_;  // protocol thread only
  std::unique_ptr<Storage> pbft_view_;
  std::unique_ptr<Storage> wal_view_;
  // Written by the protocol thread only; ledger reads (log queries) from any thread.
  std::unique_ptr<pbft::PbftWal> wal_;
  std::unique_ptr<pbft::LedgerReader> ledger_;
  std::unique_ptr<ApplyRecorder> recorder_;
  std::unique_ptr<ClientSessions> sessions_;
  std::unique_ptr<TransactionExecutor> executor_;
  ClientRequestVerifier client_verifier_;

  TwoLaneQueue<Work> queue_;
  ProtocolThread thread_{"pbft consensus manager"};

  // Protocol thread only.
  int64_t last_primary_ = 0;
  pbft::RecentProposals recent_proposals_;

  // Published for other threads.
  std::atomic<int64_t> primary_{0};
  std::atomic<uint64_t> view_{0};
  std::atomic<bool> is_primary_{false};
  std::atomic<uint64_t> stable_checkpoint_{0};
  std::atomic<uint64_t> executed_seq_{0};
  std::atomic<uint64_t> fetched_batches_{0};
  std::atomic<uint64_t> fetch_requests_{0};
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_CONSENSUS_MANAGER_PBFT_H_
