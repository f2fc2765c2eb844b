#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_CLUSTER_SIM_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_CLUSTER_SIM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "platform/common/crypto/signature.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_invariants.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_sim_clients.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_sim_disk.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_sim_executor.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_sim_network.h"
#include "platform/consensus/ordering/pbft/testing/fake_replica_keys.h"

namespace resdb {
namespace pbft {
namespace simulation {

// Where, in the handling of one Actions, an armed fault strikes.
enum class StrikePoint {
  kNow,            // at once, between two steps
  kBeforePersist,  // Actions taken, nothing written or sent
  kAfterPersist,   // durable records written, nothing sent
  kMidSend,        // written, part of the messages sent
};
const char* StrikePointName(StrikePoint point);

struct ClusterOptions {
  int num_nodes = 4;
  uint64_t seed = 1;
  PbftReplicaOptions replica_options;
  // Ticks a client waits for its proposal to execute before handing it again.
  int64_t retry_ticks = 40;
  // If set, receives one line per step: a readable trace for debugging one seed.
  std::function<void(const std::string&)> log;
};

// n PbftReplicas in one process, joined by a PbftSimNetwork and driven by a simulated clock:
// no threads, no wall clock, a run is a function of the seed and of the calls made.
//
// After every input (a delivered message, a tick, a proposal) the replica's Actions are
// drained in the order of the durability contract: write the durable records (the
// `execute` batches become ledger entries), send the messages and the answers to FETCHes,
// then run the released batches and report each with OnExecuted(). A crash loses the
// replica and its executor; Restart() rebuilds both from the disk. The invariants are
// checked as replicas act and after every step; the first violation is kept with the step
// it was found in.
//
// Faults: crashes (for good, or until Restart()), silence (alive, every outgoing message
// lost), equivocation (as primary, a replica sends part of the backups PRE_PREPAREs with
// another batch, still a client's or the no-op) and forged evidence (a replica's VIEWCHANGEs
// claim prepared certificates, at the highest view they may name, for other batches than
// the ones committed, with PREPAREs it signs in other replicas' names; as new primary, its
// NEWVIEWs claim that the others' VIEWCHANGEs held no certificates, signing them itself, and
// it then proposes other batches at the seqs it dropped) and forged client requests (as
// primary, a replica's PRE_PREPAREs, to all backups or to some, carry batches in which a
// client's request has another payload or a request in a client's name, at an id the
// client has not used yet, is signed with another key).
//
// Every message is signed by its sender with FakeReplicaKeys, and replicas check the
// signatures inside relayed evidence with them. Client requests are signed by their clients
// (PbftSimClients), and a correct replica refuses, before Step, a PRE_PREPARE whose batch
// holds a request its client did not sign, with the check production replicas run
// (ClientRequestVerifier::VerifyProposedBatch).
class PbftClusterSim {
 public:
  static constexpr int64_t kUnitsPerTick = 10;

  explicit PbftClusterSim(ClusterOptions options);
  ~PbftClusterSim();
  PbftClusterSim(const PbftClusterSim&) = delete;
  PbftClusterSim& operator=(const PbftClusterSim&) = delete;

  // Delivers every message due before the next tick boundary (a step each), then ticks every
  // up replica (one step).
  void RunTick();

  // A client creates a new proposal of `requests` requests; it is handed out by ServeClients.
  void NewProposal(int requests);
  // Marks proposals that f+1 correct replicas executed as done, and hands the due ones to
  // the primary (see Primary()); a refused proposal is handed again next time.
  void ServeClients();

  // Crashes `id` at `point` of its next Actions (at once for kNow). With `pre_prepare_reach`
  // >= 0 the fault waits for Actions that broadcast a PRE_PREPARE, and with kMidSend that
  // PRE_PREPARE reaches exactly that many (randomly chosen) peers before the crash.
  // `forever`: the replica never restarts (a permanent fault).
  void Crash(int64_t id, StrikePoint point, bool forever, int pre_prepare_reach = -1);
  // Like Crash(kMidSend), but the replica stays up and from then on everything it sends
  // is lost.
  void Silence(int64_t id, int pre_prepare_reach);
  // `id` equivocates whenever it is the primary.
  void MakeByzantine(int64_t id);
  // `id` forges the prepared certificates of its VIEWCHANGEs and the VIEWCHANGEs of its
  // NEWVIEWs.
  void MakeForger(int64_t id);
  // `id`, as primary, proposes batches holding forged client requests.
  void MakeRequestForger(int64_t id);
  // Cancels armed faults that have not struck yet.
  void Disarm();
  // Rebuilds a crashed replica from its disk (no-op for a node that is up or down forever).
  void Restart(int64_t id);

  bool IsUp(int64_t id) const;
  bool IsArmed(int64_t id) const;
  // Byzantine (an equivocator or a forger), silent or crashed for good.
  bool IsFaulty(int64_t id) const;
  // Up and not faulty.
  bool IsCorrectUp(int64_t id) const { return IsUp(id) && !IsFaulty(id); }
  const std::vector<int64_t>& ids() const { return ids_; }
  size_t f() const { return static_cast<size_t>((ids_.size() - 1) / 3); }
  // nullptr while down.
  const PbftReplica* replica(int64_t id) const;
  const PbftSimExecutor& executor(int64_t id) const;
  const PbftSimDisk& disk(int64_t id) const;
  // The up replica that is primary of the view it is active in, the highest such view;
  // 0 if none.
  int64_t Primary() const;
  uint64_t MaxView() const;

  PbftSimNetwork& network() { return network_; }
  const PbftSimClients& clients() const { return clients_; }
  const PbftInvariants& invariants() const { return invariants_; }

  void Fail(const std::string& description);
  bool ok() const { return invariants_.ok(); }
  // "<step>: <description>" of the first violation; empty while ok().
  std::string violation() const;

  int64_t now() const { return now_; }
  int64_t ticks() const { return ticks_; }
  uint64_t steps() const { return steps_; }
  uint64_t crashes() const { return crashes_; }
  uint64_t refused() const { return refused_; }
  uint64_t equivocations() const { return equivocations_; }
  // Prepared certificates forged.
  uint64_t forgeries() const { return forgeries_; }
  // Client requests forged, and PRE_PREPAREs correct replicas refused because a request of
  // their batch was not signed by its client.
  uint64_t forged_requests() const { return forged_requests_; }
  uint64_t unsigned_refused() const { return unsigned_refused_; }
  uint64_t trace_hash() const { return trace_hash_; }

 private:
  struct SimNode;
  struct Armed {
    bool silence = false;
    StrikePoint point = StrikePoint::kNow;
    bool forever = false;
    int pre_prepare_reach = -1;
  };

  SimNode& Get(int64_t id);
  const SimNode& Get(int64_t id) const;
  void Deliver(int64_t at, const Envelope& envelope);
  // Whether `node` holds client requests it has not executed (see Tick(requests_waiting)).
  bool RequestsWaiting(const SimNode& node) const;
  // Drains `node`'s Actions until it has none (or crashes).
  void ProcessActions(SimNode& node);
  // The messages of `actions` as envelopes, in order, FETCH answers included.
  std::vector<Envelope> Outgoing(SimNode& node, const Actions& actions);
  // What an equivocating primary sends instead of `envelope`.
  Envelope Equivocate(SimNode& node, Envelope envelope);
  // What a request forger sends instead of its PRE_PREPARE `envelope`.
  Envelope ForgeRequests(SimNode& node, Envelope envelope);
  // `batch` with forged client requests in it.
  std::string ForgedBatch(const SimNode& node, const std::string& batch);
  // Whether `node`'s releases, executions and checkpoints count for the invariants: a
  // Byzantine replica's prove nothing.
  static bool Reports(const SimNode& node);
  // What a forger sends instead of its VIEWCHANGE `message`.
  Request ForgeViewChange(const SimNode& node, const Request& message);
  // What a forger sends as new primary instead of its NEWVIEW `message`.
  Request ForgeNewView(SimNode& node, const Request& message);
  // Sends part of `out` (see Crash) and returns; the caller then applies the fault.
  void SendPart(SimNode& node, const std::vector<Envelope>& out, int pre_prepare_reach);
  void SendOne(SimNode& node, Envelope envelope);
  void Execute(SimNode& node, const Actions& actions);
  void DoCrash(SimNode& node, bool forever);
  // `describe` names the step; called only for a log line or a violation.
  void EndStep(const std::function<std::string()>& describe);
  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }
  void Trace(uint64_t value);
  int64_t Draw(int64_t lo, int64_t hi);

  const ClusterOptions options_;
  const FakeReplicaKeys keys_;
  // options_.replica_options, checking signatures with keys_.
  PbftReplicaOptions replica_options_;
  // replica_options_ for replica `id`, which signs its own evidence with its key in keys_.
  PbftReplicaOptions OptionsFor(int64_t id) const;
  std::vector<int64_t> ids_;
  // Replica id i at position i - 1.
  std::vector<std::unique_ptr<SimNode>> nodes_;
  PbftSimNetwork network_;
  std::mt19937_64 rng_;
  PbftSimClients clients_;
  PbftInvariants invariants_;
  int64_t now_ = 0;
  int64_t ticks_ = 0;
  uint64_t steps_ = 0;
  uint64_t crashes_ = 0;
  uint64_t refused_ = 0;
  uint64_t equivocations_ = 0;
  uint64_t forgeries_ = 0;
  uint64_t forged_requests_ = 0;
  uint64_t unsigned_refused_ = 0;
  // What a request forger signs with: a key of its own, not any client's.
  std::unique_ptr<Signer> forger_key_;
  uint64_t trace_hash_ = 1469598103934665603ULL;
  std::string failed_step_;
};

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_CLUSTER_SIM_H_
