#include "platform/consensus/ordering/raft/simulation/fault_driver.h"

#include <algorithm>
#include <cmath>

namespace resdb {
namespace raft {

FaultDriver::FaultDriver(const ScenarioConfig& config, uint64_t seed, SimulatedCluster* cluster)
    : config_(config),
      rng_(seed * 0xD1B54A32D192ED03ULL + 3),
      cluster_(cluster),
      membership_(config, seed, cluster) {}

void FaultDriver::Tick(int64_t tick) {
  RestartDue(tick);
  DisarmDue(tick);
  MaybeCrash(tick);
  MaybeRepartition();
  MaybeIsolateLeader(tick);
  MaybeTransfer();
  membership_.Tick(tick);
  Propose();
  Read();
  cluster_->RunTick();
  ScheduleRestarts(tick);
}

double FaultDriver::Uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

int64_t FaultDriver::Between(int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, std::max(lo, hi))(rng_);
}

const std::vector<int64_t>& FaultDriver::ids() const { return cluster_->ids(); }

void FaultDriver::RestartDue(int64_t tick) {
  for (auto it = restart_at_.begin(); it != restart_at_.end();) {
    if (it->second <= tick) {
      cluster_->Restart(it->first);
      it = restart_at_.erase(it);
    } else {
      ++it;
    }
  }
}

void FaultDriver::DisarmDue(int64_t tick) {
  for (auto it = disarm_at_.begin(); it != disarm_at_.end();) {
    if (!cluster_->IsCrashArmed(it->first)) {
      it = disarm_at_.erase(it);  // struck already
    } else if (it->second <= tick) {
      cluster_->DisarmCrash(it->first);
      it = disarm_at_.erase(it);
    } else {
      ++it;
    }
  }
}

void FaultDriver::ScheduleRestarts(int64_t tick) {
  for (int64_t id : ids()) {
    if (!cluster_->IsUp(id) && restart_at_.count(id) == 0) {
      restart_at_[id] = tick + Between(config_.min_down_ticks, config_.max_down_ticks);
    }
  }
}

void FaultDriver::MaybeCrash(int64_t tick) {
  if (config_.crash_rate <= 0 || Uniform() >= config_.crash_rate) return;
  int down = 0;
  std::vector<int64_t> candidates;
  for (int64_t id : ids()) {
    if (!cluster_->IsUp(id) || cluster_->IsCrashArmed(id)) {
      ++down;
    } else {
      candidates.push_back(id);
    }
  }
  const int n = std::min(config_.crashes_at_once, config_.max_down - down);
  for (int k = 0; k < n && !candidates.empty(); ++k) {
    size_t pick = static_cast<size_t>(Between(0, static_cast<int64_t>(candidates.size()) - 1));
    const int64_t leader = cluster_->Leader();
    auto leader_it = std::find(candidates.begin(), candidates.end(), leader);
    if (leader_it != candidates.end() && Uniform() < config_.crash_leader_bias) {
      pick = static_cast<size_t>(leader_it - candidates.begin());
    }
    int64_t id = candidates[pick];
    candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(pick));
    const int num_points =
        config_.snapshot_every > 0 ? kNumCrashPointsWithSnapshots : kNumCrashPoints;
    const CrashPoint point = config_.crash_points.empty()
                                 ? static_cast<CrashPoint>(Between(0, num_points - 1))
                                 : config_.crash_points[static_cast<size_t>(Between(
                                       0, static_cast<int64_t>(config_.crash_points.size()) - 1))];
    if (IsInstallPoint(point)) id = PreferNeedingSnapshot(id, &candidates);
    cluster_->Crash(id, point);
    if (static_cast<int>(point) >= kNumCrashPoints) disarm_at_[id] = tick + config_.max_down_ticks;
  }
}

bool FaultDriver::IsInstallPoint(CrashPoint point) {
  return point == CrashPoint::kAfterSnapshotInstall || point == CrashPoint::kAfterRestoreSnapshot ||
         point == CrashPoint::kAfterSnapshotCompaction;
}

int64_t FaultDriver::PreferNeedingSnapshot(int64_t id, std::vector<int64_t>* candidates) {
  const int64_t leader = cluster_->Leader();
  if (leader == 0) return id;
  const std::vector<int64_t> needing = cluster_->node(leader)->FollowersNeedingSnapshot();
  auto needs = [&](int64_t n) {
    return std::find(needing.begin(), needing.end(), n) != needing.end();
  };
  if (needs(id)) return id;
  auto it = std::find_if(candidates->begin(), candidates->end(), needs);
  if (it == candidates->end()) return id;
  std::swap(id, *it);  // `id` goes back among the candidates
  return id;
}

void FaultDriver::MaybeRepartition() {
  if (config_.partition_change_rate <= 0 || Uniform() >= config_.partition_change_rate) {
    return;
  }
  SimulatedNetwork& net = cluster_->network();
  const int64_t kind = Between(0, 3);
  if (kind == 0) {
    net.HealLinks();
  } else if (kind == 2) {
    net.HealLinks();
    net.Isolate(ids()[static_cast<size_t>(Between(0, ids().size() - 1))], ids());
  } else if (kind == 3 && config_.asymmetric_partitions) {
    // Directed cuts: a -> b fails while b -> a may work.
    net.HealLinks();
    const int64_t cuts = Between(1, static_cast<int64_t>(ids().size()));
    for (int64_t i = 0; i < cuts; ++i) {
      const int64_t a = ids()[static_cast<size_t>(Between(0, ids().size() - 1))];
      const int64_t b = ids()[static_cast<size_t>(Between(0, ids().size() - 1))];
      if (a != b) net.CutLink(a, b);
    }
  } else {
    const int64_t groups = Between(2, 3);
    std::vector<std::vector<int64_t>> layout(static_cast<size_t>(groups));
    for (int64_t id : ids()) layout[static_cast<size_t>(Between(0, groups - 1))].push_back(id);
    net.Partition(layout, ids());
  }
}

void FaultDriver::MaybeIsolateLeader(int64_t tick) {
  if (config_.leader_isolation_period <= 0) return;
  if (tick == isolation_ends_at_) cluster_->network().HealLinks();
  if (tick > 0 && tick % config_.leader_isolation_period == 0) {
    const int64_t leader = cluster_->Leader();
    if (leader != 0) {
      // Cut both directions, only what the leader sends, or only what it receives.
      const int64_t kind = Between(0, 2);
      for (int64_t other : ids()) {
        if (other == leader) continue;
        if (kind != 2) cluster_->network().CutLink(leader, other);
        if (kind != 1) cluster_->network().CutLink(other, leader);
      }
      isolation_ends_at_ = tick + config_.leader_isolation_ticks;
    }
  }
}

void FaultDriver::MaybeTransfer() {
  if (config_.transfer_rate <= 0 || Uniform() >= config_.transfer_rate) return;
  const int64_t leader = cluster_->Leader();
  const int64_t to = ids()[static_cast<size_t>(Between(0, ids().size() - 1))];
  if (leader != 0 && to != leader) cluster_->TransferLeadership(leader, to);
}

void FaultDriver::Propose() {
  const double whole = std::floor(config_.proposal_rate);
  int n = static_cast<int>(whole);
  if (Uniform() < config_.proposal_rate - whole) ++n;
  for (int i = 0; i < n; ++i) cluster_->Propose();
}

void FaultDriver::Read() {
  if (config_.read_rate > 0 && Uniform() < config_.read_rate) cluster_->Read();
}

}  // namespace raft
}  // namespace resdb
