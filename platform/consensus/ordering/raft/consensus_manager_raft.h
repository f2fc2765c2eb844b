#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_CONSENSUS_MANAGER_RAFT_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_CONSENSUS_MANAGER_RAFT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "platform/common/two_lane_queue.h"
#include "platform/config/resdb_config.h"
#include "platform/consensus/execution/transaction_executor.h"
#include "platform/consensus/execution/transaction_manager.h"
#include "platform/consensus/ordering/raft/leadership_transfer.h"
#include "platform/consensus/ordering/raft/membership_coordinator.h"
#include "platform/consensus/ordering/raft/pending_reads.h"
#include "platform/consensus/ordering/raft/published_membership.h"
#include "platform/consensus/ordering/raft/published_state.h"
#include "platform/consensus/ordering/raft/raft_config.h"
#include "platform/consensus/ordering/raft/raft_metrics.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/raft_rpc.h"
#include "platform/consensus/ordering/raft/raft_store.h"
#include "platform/consensus/ordering/raft/snapshot_receiver.h"
#include "platform/consensus/ordering/raft/snapshot_sender.h"
#include "platform/consensus/ordering/raft/snapshot_taker.h"
#include "platform/consensus/ordering/raft/write_router.h"
#include "platform/consensus/replica/apply_recorder.h"
#include "platform/consensus/replica/client_sessions.h"
#include "platform/consensus/replica/protocol_thread.h"
#include "platform/networkstrate/consensus_manager.h"
#include "platform/statistic/stats.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/staged_storage.h"
#include "platform/storage/storage.h"

namespace resdb {

// RAFT behind the shared transport: replicates client writes through a RaftNode, applies
// what commits through a TransactionExecutor (seq = log index) and answers clients after
// apply. The manager keeps the queue, the thread and the dispatch; the rest is in classes it
// drives (see documents/architecture.md).
//
// Threads. One raft thread (ProtocolThread) owns the RaftNode. Transport threads hand it work
// (RAFT messages, client writes, reads, operators' requests) through a TwoLaneQueue: replica
// traffic and client work in lanes bounded apart, so a client flood cannot crowd out
// heartbeats and votes; what does not fit is dropped, counted in "raft_queue_dropped" and, for
// a client call, answered UNAVAILABLE. The thread sleeps on a condition variable until work
// arrives or the next tick (raft_config.heartbeat_interval_ms) is due. After each round of
// work it drains Ready: RaftStore persists it (ReadyPersister: term and vote, the log, then
// the commit index) before any message is sent, committed entries go to the executor, read
// states to PendingReads, then Advance.
//
// Writes. ClientSessions holds the client's call; WriteRouter queues the write on the leader
// (proposed as batches of up to client_batch_num requests and max_batch_bytes), forwards it
// from a follower over the replica stream (proxy_id = self), answers NO_LEADER when no leader
// is known, and routes every waiting write again when the leader changes (or, forwarded,
// after max(1 s, twice the largest election timeout)). The replica holding the call answers
// it once it applied the entry; one waiting longer than client_timeout_ms gets TIMEOUT. The
// applied-request table (ApplyRecorder) makes every (client_id, request_id) apply once.
//
// Reads (TransactionManager::IsReadOnly): consistency "stale" is served from local state at
// once; "" and "linearizable" go through RaftNode::ReadIndex and PendingReads and are served
// once the applied index reaches the read index.
//
// Storage: RaftStore (the log, term and vote, snapshots) and, in its kRaftStatePrefix view, the
// applied-request table with the applied index and the state digest.
class ConsensusManagerRaft : public ConsensusManager {
 public:
  // Opens the durable RAFT state and builds the node and the executor. Errors (a damaged
  // log: DataLossError; a prefix already taken) come back as a Status naming the cause.
  // `storage` and `prefixes` must outlive the manager; `stats` may be null.
  //
  // `staged_state`, if set, is the storage the service writes through: a StagedStorage over
  // the kUserDataPrefix view of `storage`. Each batch's state changes then reach the disk in
  // one write with the applied-request table and the applied index, so a crash can never
  // leave a batch applied but not recorded (and apply it again at replay). Without it the
  // service writes directly and the two writes are separate.
  static absl::StatusOr<std::unique_ptr<ConsensusManagerRaft>> Create(
      const ResDBConfig& config, std::unique_ptr<TransactionManager> transaction_manager,
      Storage* storage, PrefixAllocator* prefixes, Stats* stats,
      StagedStorage* staged_state = nullptr);

  ~ConsensusManagerRaft() override;

  absl::Status Start() override;
  void Stop() override;

  int OnClientCall(std::unique_ptr<Context> context, std::unique_ptr<Request> request) override;
  int OnReplicaMessage(std::unique_ptr<Request> request, ResDBMessage envelope) override;
  int64_t GetPrimary() override { return published_.leader(); }
  uint64_t GetVersion() override { return published_.term(); }
  ReplicaStatus GetStatus() override;
  // The voters and learners of the membership this replica knows; before it knows one (a
  // replica started with --join), the replicas of its config and the peers it was given.
  bool IsReplicaMember(int64_t id) override;

 protected:
  // RAFT heartbeats come from RaftNode ticks.
  void HeartBeat() override {}

 private:
  using Clock = std::chrono::steady_clock;

  struct Work {
    enum Kind { kMessage, kWrite, kForwarded, kRead, kAdmin, kSnapshotTaken, kSnapshotSaved };
    Kind kind = kMessage;
    raft::RaftMessage message;
    UserRequest request;
    uint64_t read_id = 0;
    // kAdmin: the operator's request (transfer_leader, add_replica or remove_replica) and
    // call.
    AdminRequest admin;
    std::unique_ptr<Context> context;
    // kSnapshotTaken: the storage as of applied `index`. kSnapshotSaved: the snapshot
    // (`index`, `term`) is stored if `saved`.
    std::shared_ptr<StorageSnapshot> snapshot;
    uint64_t index = 0;
    uint64_t term = 0;
    bool saved = false;
  };

  ConsensusManagerRaft(const ResDBConfig& config, Stats* stats);

  absl::Status Open(std::unique_ptr<TransactionManager> transaction_manager, Storage* storage,
                    PrefixAllocator* prefixes);

  // Transport side.
  void HandleClientRequest(std::unique_ptr<Context> context, std::unique_ptr<Request> request);
  void HandleAdminRequest(std::unique_ptr<Context> context, const Request& request);
  // Answers a LogQuery from the durable log and the snapshot store (any thread).
  Response AnswerLogQuery(const Request& request);
  // Replica traffic and the raft thread's own events never wait behind client work.
  static TwoLaneQueue<Work>::Lane LaneOf(Work::Kind kind);
  bool Enqueue(Work work);
  Response MakeResponse(Response::Status status, const std::string& error) const;
  Response NoLeaderResponse(const std::string& why) const;

  // Raft thread.
  void RaftLoop();
  void HandleWork(Work& work);
  void CheckLeaderChange();

  // Membership (consensus_manager_raft_membership.cpp).
  // Builds the leadership transfer and the membership coordinator over node_.
  void OpenMembership();
  // After the node's membership changed: peers for new members, this replica's place in it,
  // what status shows.
  void SyncMembership();
  // Refuses client requests on a replica that is not a member: it would never apply them.
  bool RefuseIfNotMember(Context* context);

  // Snapshots (consensus_manager_raft_snapshot.cpp). The state a snapshot carries: the
  // service's data and the applied-request table, as key prefixes of the whole storage.
  static std::vector<std::string> StatePrefixes();
  // Builds the snapshot taker, sender and receiver over the store's snapshots.
  void OpenSnapshots(const raft::SnapshotSender::Options& sender);
  // Raft thread: a RAFT message, with the InstallSnapshot exchange handled around Step. True if
  // it was an InstallSnapshot request (not for the node).
  bool HandleSnapshotMessage(const raft::RaftMessage& message);
  // Executor thread: after applying `applied`, starts a snapshot when the log has grown
  // snapshot_threshold entries past the last one.
  void MaybeTakeSnapshot(uint64_t applied);
  // Raft thread.
  void OnSnapshotTaken(Work& work);
  void OnSnapshotSaved(const Work& work);
  // Leader: sends the next chunk to every follower whose entries were compacted away.
  void SendSnapshots(Clock::time_point now);
  void HandleInstallSnapshotResponse(int64_t from, const raft::InstallSnapshotResponse& resp);
  // Follower: stores the chunk; the last one installs the snapshot.
  void HandleInstallSnapshotRequest(int64_t from, const raft::InstallSnapshotRequest& req);
  // Replaces the state by the complete incoming snapshot and tells the node.
  absl::Status InstallSnapshot(const raft::SnapshotMetadata& metadata);
  void ExpireRequests(Clock::time_point now);
  void DrainReady();
  void PublishState();

  // Answers a read from the state as of `applied`, with `note` as the answer's error text
  // (any thread).
  void ServeRead(std::unique_ptr<Context> context, const std::string& data, uint64_t applied,
                 const char* note);

  // Executor thread.
  void OnExecuted(uint64_t seq, const BatchUserRequest& batch, BatchUserResponse responses);

  const int64_t self_id_;
  const std::chrono::milliseconds tick_;
  const std::chrono::milliseconds client_timeout_;
  const bool sync_;

  // Declared in dependency order: destroyed in reverse.
  // The replica's whole storage: state images read and write across prefixes.
  Storage* storage_ = nullptr;
  StagedStorage* staged_state_ = nullptr;
  std::unique_ptr<raft::RaftStore> store_;
  // The applied-request table, the state digest and the applied index, written with each
  // applied entry's state.
  std::unique_ptr<ApplyRecorder> recorder_;
  std::unique_ptr<raft::RaftNode> node_;  // raft thread only (after Open)
  std::unique_ptr<ClientSessions> sessions_;
  std::unique_ptr<raft::WriteRouter> router_;  // raft thread only
  std::unique_ptr<raft::RaftRpc> rpc_;
  TransactionManager* transaction_manager_ = nullptr;  // owned by executor_
  std::unique_ptr<TransactionExecutor> executor_;

  // Work queue.
  TwoLaneQueue<Work> queue_;
  ProtocolThread thread_{"raft consensus manager"};

  // Reads waiting for their read index or for apply.
  std::unique_ptr<raft::PendingReads> reads_;

  // Raft thread only.
  std::unique_ptr<raft::LeadershipTransfer> transfer_;
  std::unique_ptr<raft::MembershipCoordinator> membership_;
  std::unique_ptr<raft::SnapshotTaker> snapshot_taker_;
  std::unique_ptr<raft::SnapshotSender> snapshot_sender_;
  std::unique_ptr<raft::SnapshotReceiver> snapshot_receiver_;

  raft::PublishedState published_;
  raft::PublishedMembership published_membership_;

  raft::RaftMetrics metrics_;
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_CONSENSUS_MANAGER_RAFT_H_
