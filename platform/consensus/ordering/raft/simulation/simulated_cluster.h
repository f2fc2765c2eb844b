#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SIMULATED_CLUSTER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SIMULATED_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/consensus/ordering/raft/membership.h"
#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_log.h"
#include "platform/consensus/ordering/raft/raft_node.h"
#include "platform/consensus/ordering/raft/raft_persistent_state.h"
#include "platform/consensus/ordering/raft/ready_persister.h"
#include "platform/consensus/ordering/raft/simulation/invariant_checker.h"
#include "platform/consensus/ordering/raft/simulation/proposal_tracker.h"
#include "platform/consensus/ordering/raft/simulation/simulated_network.h"
#include "platform/storage/prefix_allocator.h"
#include "platform/storage/storage.h"

namespace resdb {
namespace raft {

// Where in the handling of a Ready a crash strikes (see SimulatedCluster::Crash).
enum class CrashPoint {
  kNow,             // between two steps
  kBeforePersist,   // Ready taken, nothing persisted
  kAfterHardState,  // term/vote/commit persisted, log not written
  kAfterLogWrite,   // everything persisted, no message sent
  kAfterSend,       // messages sent, nothing applied
  kAfterApply,      // applied, Advance not called
  // Around snapshots (only reached with ClusterOptions::snapshot_every > 0):
  kAfterSnapshotSave,        // own snapshot stored, nothing compacted
  kBetweenCompactions,       // durable log or RaftNode compacted, not yet the other
  kAfterSnapshotInstall,     // received snapshot stored, RestoreSnapshot not called
  kAfterRestoreSnapshot,     // RestoreSnapshot called, its Ready not taken
  kAfterSnapshotCompaction,  // Ready::snapshot applied to the durable log, nothing else
};
// The points of the Ready contract (the first six), and all of them.
inline constexpr int kNumCrashPoints = 6;
inline constexpr int kNumCrashPointsWithSnapshots = 11;
const char* CrashPointName(CrashPoint point);

struct ClusterOptions {
  // The initial voters, ids 1..num_nodes.
  int num_nodes = 3;
  // Spare nodes, ids num_nodes + 1 onwards: they start as joining nodes (no membership) and
  // take part in the network, crashes and restarts like any node, but campaign only once a
  // membership change made them voters.
  int spares = 0;
  uint64_t seed = 1;
  // True: each node's state machine survives crashes (like the LevelDB-backed executor) and
  // the node resumes applying after its persisted last_applied. False: the state machine is
  // volatile and is rebuilt at restart by re-applying the durable log from index 1.
  bool durable_state_machine = false;
  // Template for every node; id, voters and seed are set per node.
  RaftNodeOptions node_options;
  // Breaks the Ready contract on purpose: messages leave before anything is persisted, so
  // a crash can lose a vote or an acknowledged entry. Only for checking that the invariant
  // checks notice such a bug.
  bool send_before_persist = false;
  // Every `snapshot_every` applied entries (0: never) a node stores a snapshot of its state
  // machine and compacts its log up to `snapshot_tail` entries before the snapshot's index.
  // Leaders send their snapshot to followers that need entries compacted away, and give up
  // on a transfer not answered within `snapshot_timeout_ticks`.
  int snapshot_every = 0;
  int snapshot_tail = 0;
  int snapshot_timeout_ticks = 30;
  // Probability that a node crashes right after saving the hard state of a Ready that also
  // truncates its log: the window in which a commit index saved ahead of the log would cover
  // entries that are about to be overwritten.
  double crash_on_truncate_rate = 0.0;
  // If set, receives one line per step (and per notable event inside a step): a readable
  // trace for debugging one seed.
  std::function<void(const std::string&)> log;
};

// N RaftNodes in one process, each with its own memory Storage holding its durable RaftLog
// and RaftPersistentState (PrefixAllocator views kRaftLogPrefix / kRaftStatePrefix), joined
// by a SimulatedNetwork and driven by a simulated clock. No threads, no wall clock: a run
// is a function of the seed and of the calls made.
//
// Each node's Ready is drained right after anything that may produce one (a delivered
// message, a tick, a proposal), strictly in the order of the Ready contract: save the
// hard state, truncate and append the durable log (then record its commit index), hand
// the messages to the network, apply the committed entries, Advance. The invariants are
// checked after every step; the first violation stops nothing but is kept (ok() turns
// false) together with a description of the step.
//
// With snapshots (ClusterOptions::snapshot_every), each node's disk also holds its latest
// snapshot: the metadata and the state machine up to last_included_index, written in one
// piece. A node compacts only after storing the snapshot that covers what it drops, and a
// restart reads the snapshot's state and replays the durable log after it. Once per tick a
// leader sends FollowersNeedingSnapshot() its stored snapshot in one InstallSnapshot message
// through the network; the follower stores it, then calls RestoreSnapshot, and answers; the
// answer (or a timeout) becomes ReportSnapshot.
class SimulatedCluster {
 public:
  // Simulated time units per tick: message delays are drawn in units, so messages sent
  // within one tick can still overtake each other.
  static constexpr int64_t kUnitsPerTick = 10;

  explicit SimulatedCluster(ClusterOptions options);
  ~SimulatedCluster();

  SimulatedCluster(const SimulatedCluster&) = delete;
  SimulatedCluster& operator=(const SimulatedCluster&) = delete;

  // One tick: delivers, in time order, every message due before the next tick boundary
  // (each delivery is one step), then ticks every node that is up (one step).
  void RunTick();

  // A client submits a new proposal to a leader: one of the nodes that are up and believe
  // they lead, chosen at random. Counted as "no leader" if there is none.
  void Propose();

  // A client starts a linearizable read (RaftNode::ReadIndex) at `id`, or at a random up
  // node if `id` is 0. The ReadState it gets must not be older than any proposal
  // acknowledged before the read started.
  // Returns the read's context (0 if no node is up).
  uint64_t Read(int64_t id = 0);
  enum class ReadOutcome { kPending, kRefused, kServed, kDropped, kLost };
  // kLost: the node crashed while the read waited. Unknown contexts are kLost too.
  ReadOutcome read_outcome(uint64_t context) const;
  struct ReadCounts {
    uint64_t issued = 0;
    uint64_t refused = 0;  // ReadIndex() returned an error
    uint64_t served = 0;   // a ReadState arrived
    uint64_t dropped = 0;  // reported in Ready::dropped_reads
  };
  const ReadCounts& reads() const { return reads_; }
  size_t pending_reads() const { return pending_reads_.size(); }

  struct SnapshotCounts {
    uint64_t taken = 0;      // snapshots nodes stored of their own state machine
    uint64_t sent = 0;       // InstallSnapshot messages leaders sent
    uint64_t installed = 0;  // snapshots followers stored and restored
    uint64_t stale = 0;      // arrived at or below the receiver's commit index: ignored
    uint64_t refused = 0;    // wrong term, or the receiver leads
    uint64_t timed_out = 0;  // transfers the leader gave up waiting for
  };
  const SnapshotCounts& snapshots() const { return snapshots_; }

  // Crashes `id`: the RaftNode and everything not yet written to its Storage is lost. With
  // kNow at once; otherwise the crash strikes at that point of the node's next Ready.
  void Crash(int64_t id, CrashPoint point);
  // Cancels crashes armed for a later Ready and stops ClusterOptions::crash_on_truncate_rate.
  void DisarmCrashes();
  // Cancels the crash armed at `id`, if any.
  void DisarmCrash(int64_t id);
  // Rebuilds a crashed node from its Storage.
  void Restart(int64_t id);

  // Asks the leader `id` to hand leadership to `to` (errors are ignored: the request may
  // be stale).
  void TransferLeadership(int64_t id, int64_t to);

  // Asks `id` to propose a one-server membership change (RaftNode::ProposeMembership) and
  // returns its answer (FailedPrecondition if `id` is down).
  absl::StatusOr<uint64_t> ProposeMembership(int64_t id, MembershipChange change, int64_t node);
  struct MembershipCounts {
    uint64_t proposed = 0;       // changes a leader accepted
    uint64_t refused = 0;        // ProposeMembership returned an error
    uint64_t committed = 0;      // distinct CONFIG entries applied by some node
    uint64_t self_removals = 0;  // accepted changes by which a leader removed itself
    uint64_t self_removals_committed = 0;
  };
  const MembershipCounts& membership_changes() const { return membership_; }

  bool IsUp(int64_t id) const;
  bool IsCrashArmed(int64_t id) const;
  // Every node, the initial voters first, then the spares.
  const std::vector<int64_t>& ids() const { return ids_; }
  bool IsSpare(int64_t id) const { return id > options_.num_nodes; }
  // nullptr while the node is down.
  const RaftNode* node(int64_t id) const;
  // The up node that leads with the highest term, 0 if none.
  int64_t Leader() const;
  // The highest term of any up node.
  uint64_t MaxTerm() const;
  // The state machine of `id`: every applied entry, index i at position i - 1 (those of an
  // installed snapshot included).
  const std::vector<Entry>& applied(int64_t id) const;

  SimulatedNetwork& network() { return network_; }
  const ProposalTracker& proposals() const { return tracker_; }
  const InvariantChecker& checker() const { return checker_; }

  // Records a violation (only the first is kept). Inside a step it is described with that
  // step; otherwise as found after the last step.
  void Fail(const std::string& description);
  bool ok() const { return checker_.ok(); }
  // "<step>: <description>" of the first violation; empty while ok().
  std::string violation() const;

  int64_t now() const { return now_; }
  int64_t ticks() const { return ticks_; }
  uint64_t steps() const { return steps_; }
  uint64_t crashes() const { return crashes_; }
  // A hash of everything observable in the run so far (messages delivered, ticks, entries
  // applied, crashes); equal for two runs of the same seed.
  uint64_t trace_hash() const { return trace_hash_; }

 private:
  // What a node loses when it crashes: everything but its disk (Storage and stored snapshot)
  // and its state machine.
  // Members are destroyed in reverse order, so users go before what they use.
  struct Process {
    PrefixAllocator allocator;
    std::unique_ptr<Storage> log_view;
    std::unique_ptr<Storage> state_view;
    std::unique_ptr<RaftLog> log;
    std::unique_ptr<RaftPersistentState> state;
    std::unique_ptr<ReadyPersister> persister;
    std::unique_ptr<RaftNode> raft;
    // Leader: the snapshot transfer in flight to each follower.
    struct Transfer {
      uint64_t term = 0;   // the leader's term when it sent
      uint64_t index = 0;  // last_included_index of the snapshot sent
      int64_t deadline_tick = 0;
    };
    std::map<int64_t, Transfer> transfers;
  };

  // A node's latest snapshot, on its disk: written in one piece, so a crash keeps the old
  // one or the new one.
  struct StoredSnapshot {
    SnapshotMetadata metadata;
    // The state machine up to metadata.last_included_index(): index i at position i - 1.
    std::vector<Entry> state;
  };

  struct SimNode {
    int64_t id = 0;
    // The node's disk: survives crashes.
    std::unique_ptr<Storage> storage;
    std::optional<StoredSnapshot> snapshot;
    std::unique_ptr<Process> process;  // null while down
    uint64_t incarnation = 0;
    bool crash_armed = false;
    CrashPoint crash_point = CrashPoint::kNow;
    std::vector<Entry> applied;
    // Term and commit index at the end of the previous step (reset at restart): neither may
    // decrease while the process lives.
    uint64_t seen_term = 0;
    uint64_t seen_commit = 0;
  };

  SimNode& Get(int64_t id);
  const SimNode& Get(int64_t id) const;
  void Deliver(int64_t at, const RaftMessage& message);
  // Drains `node`'s Ready until it has none (or it crashes).
  void ProcessReady(SimNode& node);
  // Hands `messages` of `node` to the network; false (and a violation) if one is malformed.
  bool Send(const SimNode& node, const std::vector<RaftMessage>& messages);
  // Returns true (and crashes the node) if a crash is armed at `point`.
  // A crash is armed at `point`; CrashHere also performs it.
  bool CrashDue(const SimNode& node, CrashPoint point);
  bool CrashHere(SimNode& node, CrashPoint point);
  // Between the persister's steps: tells the checker what became durable, and stops at the
  // armed crash point (ProcessReady then crashes the node).
  class StepObserver : public ReadyPersister::Observer {
   public:
    StepObserver(SimulatedCluster* cluster, SimNode* node) : cluster_(cluster), node_(node) {}
    bool AfterStep(ReadyPersister::Step step, const Ready& ready) override;

   private:
    SimulatedCluster* const cluster_;
    SimNode* const node_;
  };
  void OnReadState(const SimNode& node, const ReadState& read);
  void OnDroppedRead(const SimNode& node, uint64_t context);
  void DoCrash(SimNode& node);
  // Brings the durable state of a restarting node in line with its stored snapshot and
  // returns the state to restore RaftNode from; false (and a violation) on a storage error.
  bool RestoreFromDisk(SimNode& node, Process& process, RaftRestoredState* restored);
  void EndStep(const std::string& what);

  // Snapshots (simulated_cluster_snapshot.cpp).
  // After Advance: stores a snapshot and compacts once snapshot_every entries were applied
  // since the last one. Returns false if the node crashed on the way.
  bool MaybeTakeSnapshot(SimNode& node);
  // Compacts the durable log and RaftNode's log to `index`, in an order drawn at random.
  bool CompactLogs(SimNode& node, uint64_t index);
  // Ready::snapshot: records the compaction boundary in the durable log.
  // Ready::snapshot must be the snapshot the node stored.
  bool CheckReadySnapshot(SimNode& node, const SnapshotMetadata& metadata);
  // Once per tick, for every leader: gives up on overdue transfers and sends its snapshot
  // to followers that need one and have none in flight.
  void ServeSnapshots();
  void SendSnapshot(SimNode& leader, int64_t follower);
  // An InstallSnapshot message reached `node` (instead of RaftNode::Step).
  void OnInstallSnapshot(SimNode& node, const RaftMessage& message);
  // Stores the snapshot as the node's state and restores RaftNode from it. Returns false if
  // the node crashed on the way.
  bool InstallSnapshot(SimNode& node, const SnapshotMetadata& metadata, std::vector<Entry> state);
  // An InstallSnapshotResponse, already stepped into `node`'s RaftNode.
  void OnSnapshotResponse(SimNode& node, const RaftMessage& message);

  // Records the first application of a CONFIG entry (membership_ counts).
  void OnConfigApplied(const Entry& entry);

  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }
  void Trace(uint64_t value) { trace_hash_ = HashU64(trace_hash_, value); }

  const ClusterOptions options_;
  std::vector<int64_t> ids_;
  std::map<int64_t, std::unique_ptr<SimNode>> nodes_;
  SimulatedNetwork network_;
  std::mt19937_64 client_rng_;
  std::mt19937_64 fault_rng_;
  double crash_on_truncate_rate_;
  InvariantChecker checker_;
  struct PendingRead {
    int64_t node = 0;
    uint64_t incarnation = 0;
    // The highest acknowledged index when the read started.
    uint64_t min_index = 0;
  };
  std::map<uint64_t, PendingRead> pending_reads_;  // by context
  std::map<uint64_t, ReadOutcome> read_outcomes_;  // by context
  uint64_t next_read_context_ = 1;
  ReadCounts reads_;
  SnapshotCounts snapshots_;
  MembershipCounts membership_;
  // Accepted membership changes by (index, term): whether the proposer removed itself.
  std::map<std::pair<uint64_t, uint64_t>, bool> config_proposals_;
  // Indexes of CONFIG entries some node applied.
  std::set<uint64_t> applied_configs_;
  ProposalTracker tracker_;
  int64_t now_ = 0;
  int64_t ticks_ = 0;
  uint64_t steps_ = 0;
  uint64_t crashes_ = 0;
  uint64_t trace_hash_ = kHashSeed;
  std::string failed_step_;
};

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_SIMULATED_CLUSTER_H_
