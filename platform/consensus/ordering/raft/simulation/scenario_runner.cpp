#include "platform/consensus/ordering/raft/simulation/scenario_runner.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "platform/consensus/ordering/raft/simulation/fault_driver.h"
#include "platform/consensus/ordering/raft/simulation/simulated_cluster.h"

namespace resdb {
namespace raft {
namespace {

// Most filler proposals submitted per tick while healing.
constexpr int kMaxFillersPerTick = 20;

std::string DescribeNodes(const SimulatedCluster& cluster) {
  std::string out;
  for (int64_t id : cluster.ids()) {
    const RaftNode* n = cluster.node(id);
    if (n == nullptr) {
      absl::StrAppend(&out, " [node ", id, " down]");
      continue;
    }
    absl::StrAppend(&out, " [node ", id, " ", RoleName(n->role()), " term ", n->term(), " last ",
                    n->last_index(), " commit ", n->commit_index(), " applied ",
                    cluster.applied(id).size(), "]");
  }
  absl::StrAppend(&out, " pending proposals ", cluster.proposals().pending());
  if (const int64_t leader = cluster.Leader()) {
    absl::StrAppend(&out, " leader ", leader, " has ",
                    DescribeMembership(cluster.node(leader)->membership()), " from index ",
                    cluster.node(leader)->membership_index());
  }
  return out;
}

// The nodes the healed cluster must bring along: the members (voters and learners) of the
// leader's configuration, every node while there is no leader. Nodes whose removal was
// committed and spares never added may stay idle, and a removed node never learns the
// outcome of what it proposed before it left.
std::vector<int64_t> Members(const SimulatedCluster& cluster) {
  const int64_t leader = cluster.Leader();
  if (leader == 0) return cluster.ids();
  const Membership& m = cluster.node(leader)->membership();
  std::vector<int64_t> members;
  for (int64_t id : cluster.ids()) {
    if (IsVoterOf(m, id) || IsLearnerOf(m, id)) members.push_back(id);
  }
  return members;
}

// Whether the leader's term is the highest of the members: a removed node may sit in a
// higher term that nobody hears about any more.
bool LeaderOfHighestTerm(const SimulatedCluster& cluster) {
  const int64_t leader = cluster.Leader();
  if (leader == 0) return false;
  const uint64_t term = cluster.node(leader)->term();
  for (int64_t id : Members(cluster)) {
    const RaftNode* n = cluster.node(id);
    if (n != nullptr && n->term() > term) return false;
  }
  return true;
}

// Every node up, the leader's whole log committed and applied everywhere, every proposal
// resolved.
bool Converged(const SimulatedCluster& cluster) {
  const int64_t leader_id = cluster.Leader();
  if (leader_id == 0) return false;
  const RaftNode& leader = *cluster.node(leader_id);
  if (leader.commit_index() != leader.last_index()) return false;
  const std::vector<int64_t> members = Members(cluster);
  for (int64_t id : members) {
    if (cluster.proposals().pending(id) != 0) return false;
  }
  for (int64_t id : members) {
    const RaftNode* n = cluster.node(id);
    if (n == nullptr || n->last_index() != leader.last_index() ||
        n->commit_index() != leader.last_index() ||
        cluster.applied(id).size() != leader.last_index()) {
      return false;
    }
  }
  return true;
}

// How many filler proposals the leader needs so that its log reaches past every node's.
int FillersNeeded(const SimulatedCluster& cluster) {
  const int64_t leader_id = cluster.Leader();
  if (leader_id == 0) return 0;
  const uint64_t leader_last = cluster.node(leader_id)->last_index();
  uint64_t longest = leader_last;
  for (int64_t id : Members(cluster)) {
    if (const RaftNode* n = cluster.node(id)) longest = std::max(longest, n->last_index());
  }
  return static_cast<int>(std::min<uint64_t>(longest - leader_last, kMaxFillersPerTick));
}

// After convergence: identical state machines, and every acknowledged proposal in them.
void CheckFinalState(SimulatedCluster* cluster) {
  const std::vector<int64_t> ids = Members(*cluster);
  const std::vector<Entry>& first = cluster->applied(ids.front());
  for (int64_t id : ids) {
    const std::vector<Entry>& other = cluster->applied(id);
    for (size_t i = 0; i < std::min(first.size(), other.size()); ++i) {
      if (first[i].term() != other[i].term() || first[i].data() != other[i].data()) {
        cluster->Fail(absl::StrCat("convergence: nodes ", ids.front(), " and ", id,
                                   " applied different entries at index ", i + 1));
        return;
      }
    }
  }
  for (const ProposalTracker::Proposal& p : cluster->proposals().proposals()) {
    if (p.state != ProposalTracker::State::kAcked) continue;
    if (p.applied_index != p.index) {
      cluster->Fail(absl::StrCat("durability: proposal ", p.payload, " acknowledged at index ",
                                 p.index, " but applied at ", p.applied_index));
      return;
    }
    for (int64_t id : ids) {
      const std::vector<Entry>& sm = cluster->applied(id);
      if (p.index > sm.size() || sm[p.index - 1].data() != p.payload) {
        cluster->Fail(absl::StrCat("durability: acknowledged proposal ", p.payload, " (index ",
                                   p.index, ") is missing from node ", id));
        return;
      }
    }
  }
}

// Runs the healed cluster until an up node leads with the highest term. Records a
// liveness violation and returns false if that takes more than election_bound_ticks.
bool AwaitLeader(const ScenarioConfig& config, SimulatedCluster* cluster) {
  for (int t = 0; t < config.election_bound_ticks && cluster->ok(); ++t) {
    cluster->RunTick();
    if (LeaderOfHighestTerm(*cluster)) return true;
  }
  if (cluster->ok()) {
    cluster->Fail(absl::StrCat("liveness: no leader ", config.election_bound_ticks,
                               " ticks after healing:", DescribeNodes(*cluster)));
  }
  return false;
}

// Runs the healed cluster until Converged(), proposing fillers as needed. Records a
// liveness violation and returns false if that takes more than converge_bound_ticks.
bool AwaitConvergence(const ScenarioConfig& config, SimulatedCluster* cluster) {
  for (int t = 0; t < config.converge_bound_ticks && cluster->ok(); ++t) {
    if (Converged(*cluster)) return true;
    for (int i = FillersNeeded(*cluster); i > 0; --i) cluster->Propose();
    cluster->RunTick();
  }
  if (Converged(*cluster)) return true;
  if (cluster->ok()) {
    cluster->Fail(absl::StrCat("liveness: not converged ", config.converge_bound_ticks,
                               " ticks after the leader was elected:", DescribeNodes(*cluster)));
  }
  return false;
}

// With the cluster healed, every node serves a linearizable read within read_bound_ticks.
// A read that is refused or dropped (e.g. a leadership transfer requested during the faults
// completes now) is retried, as a client would.
void CheckReadLiveness(const ScenarioConfig& config, SimulatedCluster* cluster) {
  using Outcome = SimulatedCluster::ReadOutcome;
  std::map<int64_t, uint64_t> reads;  // node -> context of its latest attempt
  auto served = [&](int64_t id) {
    auto it = reads.find(id);
    return it != reads.end() && cluster->read_outcome(it->second) == Outcome::kServed;
  };
  auto all_served = [&] {
    for (int64_t id : Members(*cluster)) {
      if (!served(id)) return false;
    }
    return true;
  };
  for (int t = 0; t < config.read_bound_ticks && cluster->ok() && !all_served(); ++t) {
    for (int64_t id : Members(*cluster)) {
      auto it = reads.find(id);
      if (it == reads.end() || (cluster->read_outcome(it->second) != Outcome::kServed &&
                                cluster->read_outcome(it->second) != Outcome::kPending)) {
        reads[id] = cluster->Read(id);
      }
    }
    cluster->RunTick();
  }
  if (cluster->ok() && !all_served()) {
    cluster->Fail(absl::StrCat("liveness: not every node served a read ", config.read_bound_ticks,
                               " ticks after convergence:", DescribeNodes(*cluster)));
  }
}

// The raft_simulator flags that turn the named scenario into `config`.
std::string ExtraFlags(const ScenarioConfig& config) {
  absl::StatusOr<ScenarioConfig> base = ScenarioByName(config.name);
  if (!base.ok()) return "";
  std::string flags;
  if (config.crash_rate != base->crash_rate) {
    absl::StrAppend(&flags, " --crash_rate=", config.crash_rate);
  }
  if (config.node_options.pre_vote != base->node_options.pre_vote) {
    absl::StrAppend(&flags, " --pre_vote=", config.node_options.pre_vote ? 1 : 0);
  }
  if (config.node_options.check_quorum != base->node_options.check_quorum) {
    absl::StrAppend(&flags, " --check_quorum=", config.node_options.check_quorum ? 1 : 0);
  }
  if (config.snapshot_every != base->snapshot_every) {
    absl::StrAppend(&flags, " --snapshot_every=", config.snapshot_every);
  }
  if (config.snapshot_tail != base->snapshot_tail) {
    absl::StrAppend(&flags, " --snapshot_tail=", config.snapshot_tail);
  }
  if (config.send_before_persist) absl::StrAppend(&flags, " --send_before_persist");
  return flags;
}

}  // namespace

RunResult RunScenario(const ScenarioConfig& config, uint64_t seed,
                      std::function<void(const std::string&)> log) {
  ClusterOptions options;
  options.num_nodes = config.nodes;
  options.spares = config.spares;
  options.seed = seed;
  options.durable_state_machine =
      config.durable_state_machine < 0 ? (seed % 2 == 1) : config.durable_state_machine == 1;
  options.node_options = config.node_options;
  options.send_before_persist = config.send_before_persist;
  options.crash_on_truncate_rate = config.crash_on_truncate_rate;
  options.snapshot_every = config.snapshot_every;
  options.snapshot_tail = config.snapshot_tail;
  options.snapshot_timeout_ticks = config.snapshot_timeout_ticks;
  options.log = std::move(log);
  SimulatedCluster cluster(options);
  cluster.network().set_options(config.fault_network);

  RunResult result;
  result.scenario = config.name;
  result.seed = seed;
  result.nodes = config.nodes;
  result.fault_ticks = config.fault_ticks;
  result.extra_flags = ExtraFlags(config);
  result.durable_state_machine = options.durable_state_machine;

  // Phase 1: faults.
  FaultDriver driver(config, seed, &cluster);
  for (int64_t tick = 0; tick < config.fault_ticks && cluster.ok(); ++tick) driver.Tick(tick);

  // Phase 2: heal everything, then demand a leader, convergence and reads within bounds.
  if (cluster.ok()) {
    cluster.network().HealLinks();
    cluster.network().set_options(config.healed_network);
    cluster.DisarmCrashes();
    for (int64_t id : cluster.ids()) cluster.Restart(id);
    const int64_t heal_start = cluster.ticks();
    if (AwaitLeader(config, &cluster)) {
      result.heal_to_leader_ticks = cluster.ticks() - heal_start;
    }
    if (cluster.ok() && AwaitConvergence(config, &cluster)) {
      result.heal_to_converged_ticks = cluster.ticks() - heal_start;
    }
    if (cluster.ok()) CheckFinalState(&cluster);
    if (cluster.ok()) CheckReadLiveness(config, &cluster);
  }

  result.ok = cluster.ok();
  result.violation = cluster.violation();
  result.trace_hash = cluster.trace_hash();
  result.ticks = cluster.ticks();
  result.steps = cluster.steps();
  result.crashes = cluster.crashes();
  result.leaders_seen = cluster.checker().leaders_seen();
  result.max_term = cluster.MaxTerm();
  result.committed_index = cluster.checker().max_committed_index();
  result.proposals = cluster.proposals().counts();
  result.network = cluster.network().stats();
  result.reads_issued = cluster.reads().issued;
  result.reads_served = cluster.reads().served;
  result.reads_dropped = cluster.reads().dropped;
  result.snapshots_enabled = config.snapshot_every > 0;
  result.snapshots = cluster.snapshots();
  result.membership_enabled = config.spares > 0 || config.membership_change_rate > 0;
  result.membership = cluster.membership_changes();
  return result;
}

std::string RunResult::Summary() const {
  // Snapshot counts only where snapshots are on, so that other summaries stay as they were.
  const std::string snapshot_counts =
      snapshots_enabled ? absl::StrFormat(
                              " snapshots{taken=%d sent=%d installed=%d stale=%d refused=%d "
                              "timed_out=%d}",
                              snapshots.taken, snapshots.sent, snapshots.installed, snapshots.stale,
                              snapshots.refused, snapshots.timed_out)
                        : "";
  const std::string membership_counts =
      membership_enabled ? absl::StrFormat(
                               " membership{proposed=%d refused=%d committed=%d self_removals=%d "
                               "self_removals_committed=%d}",
                               membership.proposed, membership.refused, membership.committed,
                               membership.self_removals, membership.self_removals_committed)
                         : "";
  return absl::StrFormat(
      "%s seed=%d nodes=%d %s sm=%s ticks=%d steps=%d leaders=%d max_term=%d committed=%d "
      "crashes=%d proposals{accepted=%d acked=%d dropped=%d orphaned=%d committed=%d "
      "rejected=%d no_leader=%d} reads{issued=%d served=%d dropped=%d} "
      "msgs{sent=%d dropped=%d cut=%d dup=%d late=%d}%s%s "
      "heal->leader=%d heal->converged=%d trace=%016x",
      scenario, seed, nodes, ok ? "OK" : "VIOLATION",
      durable_state_machine ? "durable" : "volatile", ticks, steps, leaders_seen, max_term,
      committed_index, crashes, proposals.accepted, proposals.acked, proposals.dropped,
      proposals.orphaned, proposals.committed, proposals.rejected, proposals.no_leader,
      reads_issued, reads_served, reads_dropped, network.sent, network.dropped, network.cut,
      network.duplicated, network.long_delayed, snapshot_counts, membership_counts,
      heal_to_leader_ticks, heal_to_converged_ticks, trace_hash);
}

std::string RunResult::ReproduceHint() const {
  return absl::StrCat(
      "reproduce with: bazel run //platform/consensus/ordering/raft/simulation:raft_simulator -- "
      "--scenario=",
      scenario, " --seed=", seed, " --nodes=", nodes, " --steps=", fault_ticks, extra_flags,
      " --verbose   (in raft_simulation_test: --test_env=RESDB_SIM_SEED=", seed, ")");
}

}  // namespace raft
}  // namespace resdb
