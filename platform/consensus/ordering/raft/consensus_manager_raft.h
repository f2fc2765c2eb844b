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
#include "platform/consensus/ordering/raft/raft_log.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/raft_persistent_state.h"
#include "platform/consensus/ordering/raft/raft_rpc.h"
#include "platform/consensus/ordering/raft/raft_snapshot_manager.h"
#include "platform/consensus/replica/apply_recorder.h"
#include "platform/consensus/replica/client_sessions.h"
#include "platform/networkstrate/consensus_manager.h"
#include "platform/statistic/stats.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/staged_storage.h"
#include "platform/storage/storage.h"

namespace resdb {

// RAFT behind the shared transport: replicates client writes through a RaftNode, applies
// what commits through a TransactionExecutor (seq = log index) and answers clients after
// apply.
//
// Threads. One raft thread owns the RaftNode. Transport threads hand it work (RAFT messages,
// client writes, reads) through a TwoLaneQueue: replica traffic and client work in lanes
// bounded apart, so a client flood cannot crowd out heartbeats and votes; what does not fit is
// dropped, counted in "raft_queue_dropped" and, for a client call, answered UNAVAILABLE. The thread
// sleeps on a condition variable until work arrives or the next tick
// (raft_config.heartbeat_interval_ms) is due. After each round of work it drains Ready: hard state
// and log changes are persisted (the appended entries as one synced write) before any message is
// sent, committed entries go to the executor, then Advance.
//
// Writes. The leader proposes what arrived in one round as one entry holding a
// BatchUserRequest of up to client_batch_num requests and max_batch_bytes (BatchCutter). A follower
// forwards a client write to the leader over the replica stream (proxy_id = self) and keeps the
// client's Context; the replica holding the Context answers it once it applied the entry with that
// (client_id, request_id). With no leader known the answer is NO_LEADER at once (with the
// last known leader); a write still waiting when the leader is lost gets NO_LEADER, one
// waiting longer than client_timeout_ms gets TIMEOUT. A pending write is proposed or
// forwarded again whenever a new leader appears, and a forwarded one also when it waited
// longer than max(1 s, twice the largest election timeout). An AppliedRequestTable, updated
// only when entries are applied, makes every (client_id, request_id) apply once.
//
// Reads (TransactionManager::IsReadOnly): consistency "stale" is served from local state at
// once; "" and "linearizable" go through RaftNode::ReadIndex and are served once the applied
// index reaches the read index.
//
// Storage: kRaftLogPrefix (RaftLog), kRaftStatePrefix (RaftPersistentState and the applied
// request table with the applied index) and kRaftSnapshotPrefix (RaftSnapshotManager: the
// snapshots this replica took or installed) views of the replica's database.
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
  int64_t GetPrimary() override { return leader_.load(); }
  uint64_t GetVersion() override { return term_.load(); }
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
    enum Kind {
      kMessage,
      kWrite,
      kForwarded,
      kRead,
      kTransferLeader,
      kMembership,
      kSnapshotTaken,
      kSnapshotSaved
    };
    Kind kind = kMessage;
    raft::RaftMessage message;
    UserRequest request;
    uint64_t read_id = 0;
    // kTransferLeader: the target and the operator's call to answer.
    int64_t transfer_to = 0;
    // kMembership: the operator's request (add_replica or remove_replica).
    AdminRequest admin;
    std::unique_ptr<Context> context;
    // kSnapshotTaken: the storage as of applied `index`. kSnapshotSaved: the snapshot
    // (`index`, `term`) is stored if `saved`.
    std::shared_ptr<StorageSnapshot> snapshot;
    uint64_t index = 0;
    uint64_t term = 0;
    bool saved = false;
  };

  // A snapshot being sent to a follower, one chunk at a time.
  struct OutgoingSnapshot {
    raft::SnapshotMetadata metadata;
    uint64_t offset = 0;
    bool in_flight = false;
    // The follower has every chunk and is installing them: wait for it longer.
    bool installing = false;
    Clock::time_point sent_at;
  };

  // An operator's leadership transfer, answered once it took effect or failed.
  struct PendingTransfer {
    int64_t to = 0;
    std::unique_ptr<Context> context;
    Clock::time_point deadline;
  };

  // An operator's membership change, answered once committed or failed. Adding a voter takes
  // two steps: add it as a learner, then, once it caught up, promote it.
  struct PendingMembership {
    AdminRequest request;
    std::unique_ptr<Context> context;
    Clock::time_point deadline;
    int64_t id = 0;
    std::string address;
    // The step being made, and its CONFIG entry once proposed (index 0: not yet).
    raft::MembershipChange step = raft::MembershipChange::kAddLearner;
    uint64_t index = 0;
    uint64_t term = 0;
    // Before a promotion: the learner's log must reach the leader's last index as of the
    // moment the promotion was due.
    uint64_t catch_up_to = 0;
  };

  // What this replica is in the membership it knows.
  enum class MemberState { kVoter, kLearner, kRemoved, kJoining };
  static const char* MemberStateName(MemberState state);

  struct PendingRead {
    std::unique_ptr<Context> context;
    std::string data;
    Clock::time_point deadline;
    uint64_t index = 0;  // 0 until the read index is known
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
  void RouteWrite(const UserRequest& request);
  void ProposePending();
  void CheckLeaderChange();
  void StartTransfer(int64_t to, std::unique_ptr<Context> context);
  // Answers the pending transfer once it took effect, was abandoned or timed out.
  void CheckTransfer(Clock::time_point now);

  // Membership (consensus_manager_raft_membership.cpp).
  void StartMembershipChange(Work& work);
  // Proposes the next step of the pending change when it can, and answers the operator once
  // the change committed, failed or timed out.
  void AdvanceMembershipChange(Clock::time_point now);
  void FinishMembershipChange(const Response& response);
  // The learner of the pending change reached catch_up_to and is close enough to the leader's
  // log to vote without stalling commits.
  bool CaughtUp(const PendingMembership& pending) const;
  // After the node's membership changed: peers for new members, this replica's place in it,
  // what status shows.
  void SyncMembership();
  // The address of replica `id`: from the membership, else from the config file; "" if
  // neither has it.
  std::string AddressOf(int64_t id, const raft::Membership& membership) const;
  // Refuses client requests on a replica that is not a member: it would never apply them.
  bool RefuseIfNotMember(Context* context);

  // Snapshots (consensus_manager_raft_snapshot.cpp). The state a snapshot carries: the
  // service's data and the applied-request table, as key prefixes of the whole storage.
  static std::vector<std::string> StatePrefixes();
  // Executor thread: after applying `applied`, starts a snapshot when the log has grown
  // snapshot_threshold entries past the last one.
  void MaybeTakeSnapshot(uint64_t applied);
  // Raft thread.
  void OnSnapshotTaken(Work& work);
  void OnSnapshotSaved(const Work& work);
  // Leader: sends the next chunk to every follower whose entries were compacted away.
  void SendSnapshots(Clock::time_point now);
  void SendChunk(int64_t to, OutgoingSnapshot& outgoing, Clock::time_point now);
  void HandleInstallSnapshotResponse(int64_t from, const raft::InstallSnapshotResponse& resp);
  // Follower: stores the chunk; the last one installs the snapshot.
  void HandleInstallSnapshotRequest(int64_t from, const raft::InstallSnapshotRequest& req);
  // Replaces the state by the complete incoming snapshot and tells the node.
  absl::Status InstallSnapshot(const raft::SnapshotMetadata& metadata);
  void ExpireRequests(Clock::time_point now);
  void DrainReady();
  void PublishState();

  // Reads (any thread).
  void FailRead(uint64_t read_id, const Response& response);
  void SetReadIndex(uint64_t read_id, uint64_t index);
  void ServeReadsUpTo(uint64_t applied);
  void ServeRead(PendingRead read, uint64_t applied);

  // Executor thread.
  void OnExecuted(uint64_t seq, const BatchUserRequest& batch, BatchUserResponse responses);

  const int64_t self_id_;
  const std::chrono::milliseconds tick_;
  const std::chrono::milliseconds client_timeout_;
  const bool sync_;
  // How long a forwarded write waits before it is forwarded again.
  const std::chrono::milliseconds forward_retry_;

  // Declared in dependency order: destroyed in reverse.
  std::unique_ptr<Storage> log_view_;
  std::unique_ptr<Storage> state_view_;
  std::unique_ptr<Storage> snapshot_view_;
  // The replica's whole storage: state images read and write across prefixes.
  Storage* storage_ = nullptr;
  StagedStorage* staged_state_ = nullptr;
  std::unique_ptr<raft::RaftSnapshotManager> snapshots_;
  std::unique_ptr<raft::RaftLog> log_;
  std::unique_ptr<raft::RaftPersistentState> state_;
  // The applied-request table, the state digest and the applied index, written with each
  // applied entry's state.
  std::unique_ptr<ApplyRecorder> recorder_;
  std::unique_ptr<raft::RaftNode> node_;  // raft thread only (after Open)
  std::unique_ptr<ClientSessions> sessions_;
  std::unique_ptr<raft::RaftRpc> rpc_;
  TransactionManager* transaction_manager_ = nullptr;  // owned by executor_
  std::unique_ptr<TransactionExecutor> executor_;

  // Work queue.
  TwoLaneQueue<Work> queue_;
  std::mutex lifecycle_mu_;
  bool stopping_ = false;  // guarded by lifecycle_mu_
  bool started_ = false;   // guarded by lifecycle_mu_
  std::atomic<bool> stopping_flag_{false};
  std::thread raft_thread_;

  // Reads waiting for their read index or for apply.
  std::mutex reads_mu_;
  std::map<uint64_t, PendingRead> reads_;            // guarded by reads_mu_
  std::multimap<uint64_t, uint64_t> waiting_reads_;  // index -> read id, guarded by reads_mu_
  std::atomic<uint64_t> next_read_id_{1};

  // Raft thread only.
  int64_t last_leader_ = 0;
  std::optional<PendingTransfer> transfer_;
  std::optional<PendingMembership> membership_change_;
  // RaftNode::membership_version() last acted on by SyncMembership (0: none yet).
  uint64_t synced_membership_version_ = 0;
  std::map<int64_t, OutgoingSnapshot> outgoing_snapshots_;
  // Encodes and saves one snapshot at a time, off the raft and executor threads.
  std::thread snapshot_thread_;
  // Set while a snapshot is being taken (executor thread sets, raft thread clears).
  std::atomic<bool> snapshot_busy_{false};
  uint64_t snapshot_threshold_ = 0;
  uint64_t log_tail_ = 0;
  uint64_t snapshot_chunk_bytes_ = 0;
  // A chunk without an answer for this long is sent again; a follower installing a snapshot
  // gets snapshot_install_patience_.
  std::chrono::milliseconds snapshot_resend_;
  std::chrono::milliseconds snapshot_install_patience_;
  // How long a transfer may take: the node gives up after an election timeout; the new leader
  // then needs its first heartbeat to be known.
  std::chrono::milliseconds transfer_timeout_;

  // Published by the raft thread for other threads.
  std::atomic<int64_t> leader_{0};
  std::atomic<int64_t> last_known_leader_{0};
  std::atomic<uint64_t> term_{0};
  std::atomic<int> role_{0};
  std::atomic<uint64_t> commit_index_{0};
  std::atomic<uint64_t> first_index_{1};
  std::atomic<uint64_t> last_index_{0};
  // Published by the executor thread.
  std::atomic<uint64_t> applied_index_{0};
  // The index of the current snapshot (taken or installed).
  std::atomic<uint64_t> snapshot_index_{0};
  std::atomic<MemberState> member_state_{MemberState::kVoter};
  std::mutex membership_mu_;
  raft::Membership published_membership_;  // guarded by membership_mu_

  Counter* log_fsyncs_;
  Counter* committed_entries_;
  Counter* proposed_requests_;
  Counter* proposals_;
  Counter* forwarded_requests_;
  Counter* forward_dropped_;
  Counter* queue_dropped_;
  Counter* malformed_messages_;
  Counter* rejected_messages_;
  Counter* reads_served_;
  Counter* stale_reads_;
  Counter* request_timeouts_;
  Counter* snapshots_taken_;
  Counter* snapshots_sent_;
  Counter* snapshots_installed_;
  Counter* snapshot_installs_awaited_;
  Gauge* term_gauge_;
  Gauge* leader_gauge_;
  Gauge* commit_gauge_;
  Gauge* applied_gauge_;
  Gauge* pending_gauge_;
};

}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_CONSENSUS_MANAGER_RAFT_H_
