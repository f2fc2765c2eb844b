#include "platform/consensus/ordering/pbft/simulation/pbft_scenario_runner.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_cluster_sim.h"
#include "platform/consensus/ordering/pbft/simulation/pbft_fault_driver.h"

namespace resdb {
namespace pbft {
namespace simulation {
namespace {

size_t MissingRequests(const PbftClusterSim& cluster, int64_t id) {
  return cluster.clients().issued_requests() - cluster.executor(id).request_ids().size();
}

std::string DescribeNodes(const PbftClusterSim& cluster) {
  std::string out;
  for (int64_t id : cluster.ids()) {
    const PbftReplica* r = cluster.replica(id);
    if (r == nullptr) {
      absl::StrAppend(&out, " [node ", id, " down", cluster.IsFaulty(id) ? " for good]" : "]");
      continue;
    }
    absl::StrAppend(&out, " [node ", id, cluster.IsFaulty(id) ? " faulty" : "", " view ", r->view(),
                    r->view_active() ? "" : " (changing)", r->is_primary() ? " primary" : "",
                    " released ", r->last_executable_seq(), " executed ",
                    cluster.executor(id).last_seq(), " stable ", r->stable_checkpoint(),
                    " fetches ", r->fetch_request_count(), " fetched ", r->fetched_batch_count(),
                    " missing requests ", MissingRequests(cluster, id), " digest ",
                    absl::BytesToHexString(cluster.executor(id).digest().substr(0, 4)), "]");
  }
  absl::StrAppend(&out, " pending proposals ", cluster.clients().pending());
  return out;
}

// Every correct replica is up, has executed every request and agrees with the others on
// the last executed seq and the state digest.
bool Converged(const PbftClusterSim& cluster) {
  if (cluster.clients().pending() != 0) return false;
  const uint64_t all = cluster.clients().issued_requests();
  int64_t first = 0;
  for (int64_t id : cluster.ids()) {
    if (cluster.IsFaulty(id)) continue;
    if (!cluster.IsUp(id) || cluster.executor(id).request_ids().size() != all) return false;
    if (first == 0) {
      first = id;
      continue;
    }
    if (cluster.executor(id).last_seq() != cluster.executor(first).last_seq() ||
        cluster.executor(id).digest() != cluster.executor(first).digest()) {
      return false;
    }
  }
  return true;
}

uint64_t FetchedBatches(const PbftClusterSim& cluster) {
  uint64_t total = 0;
  for (int64_t id : cluster.ids()) {
    if (const PbftReplica* r = cluster.replica(id)) total += r->fetched_batch_count();
  }
  return total;
}

}  // namespace

RunResult RunScenario(const ScenarioConfig& config, uint64_t seed,
                      std::function<void(const std::string&)> log) {
  ClusterOptions options;
  options.num_nodes = config.nodes;
  options.seed = seed;
  options.replica_options = config.replica;
  options.retry_ticks = config.client_retry_ticks;
  options.log = std::move(log);
  PbftClusterSim cluster(options);
  cluster.network().set_options(config.fault_network);

  RunResult result;
  result.scenario = config.name;
  result.seed = seed;
  result.nodes = config.nodes;
  result.fault_ticks = config.fault_ticks;

  // Phase 1: faults.
  PbftFaultDriver driver(config, seed, &cluster);
  for (int64_t tick = 0; tick < config.fault_ticks && cluster.ok(); ++tick) driver.Tick(tick);
  // Catch-up counters live in replicas; a restart at healing would lose them.
  uint64_t fetched = FetchedBatches(cluster);

  // Phase 2: heal, keep some traffic, then demand convergence within the bound.
  if (cluster.ok()) {
    driver.Heal();
    cluster.network().set_options(config.healed_network);
    const int64_t heal_start = cluster.ticks();
    for (int t = 0; t < config.heal_traffic_ticks && cluster.ok(); ++t) {
      driver.Propose(std::max(config.proposal_rate, 0.3));
      cluster.ServeClients();
      cluster.RunTick();
    }
    bool converged = false;
    for (int t = 0; t <= config.converge_bound_ticks && cluster.ok(); ++t) {
      cluster.ServeClients();
      if (Converged(cluster)) {
        converged = true;
        break;
      }
      cluster.RunTick();
    }
    if (converged) {
      result.heal_to_converged_ticks = cluster.ticks() - heal_start;
    } else if (cluster.ok()) {
      cluster.Fail(absl::StrCat("liveness: not converged ", config.converge_bound_ticks,
                                " ticks after healing and ", config.heal_traffic_ticks,
                                " ticks of traffic:", DescribeNodes(cluster)));
    }
    fetched += FetchedBatches(cluster);
    if (cluster.ok() && config.expect_fetch && fetched == 0) {
      cluster.Fail("catch-up: no replica released a batch through FETCH");
    }
  }

  result.ok = cluster.ok();
  result.violation = cluster.violation();
  result.trace_hash = cluster.trace_hash();
  result.ticks = cluster.ticks();
  result.steps = cluster.steps();
  result.crashes = cluster.crashes();
  result.max_view = cluster.MaxView();
  result.released = cluster.invariants().max_released();
  result.noop_batches = cluster.invariants().empty_batches();
  result.proposals = cluster.clients().proposals().size();
  for (const auto& p : cluster.clients().proposals()) {
    result.retries += p.handed > 1 ? static_cast<uint64_t>(p.handed - 1) : 0;
  }
  result.refused = cluster.refused();
  result.equivocations = cluster.equivocations();
  result.forgeries = cluster.forgeries();
  result.forged_requests = cluster.forged_requests();
  result.unsigned_refused = cluster.unsigned_refused();
  result.fetched_batches = fetched;
  result.network = cluster.network().stats();
  return result;
}

std::string RunResult::Summary() const {
  return absl::StrFormat(
      "%s seed=%d nodes=%d %s ticks=%d steps=%d max_view=%d released=%d noops=%d "
      "proposals=%d retries=%d crashes=%d refused=%d equivocations=%d forgeries=%d "
      "forged_requests=%d unsigned_refused=%d fetched=%d "
      "msgs{sent=%d dropped=%d cut=%d dup=%d} heal->converged=%d trace=%016x",
      scenario, seed, nodes, ok ? "OK" : "VIOLATION", ticks, steps, max_view, released,
      noop_batches, proposals, retries, crashes, refused, equivocations, forgeries, forged_requests,
      unsigned_refused, fetched_batches, network.sent, network.dropped, network.cut,
      network.duplicated, heal_to_converged_ticks, trace_hash);
}

std::string RunResult::ReproduceHint() const {
  return absl::StrCat(
      "reproduce with: bazel run //platform/consensus/ordering/pbft/simulation:pbft_simulator -- "
      "--scenario=",
      scenario, " --seed=", seed, " --nodes=", nodes, " --steps=", fault_ticks,
      " --verbose   (in pbft_simulation_test: --test_env=RESDB_PBFT_SIM_SEED=", seed, ")");
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
