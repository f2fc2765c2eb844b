#include "platform/consensus/ordering/pbft/simulation/pbft_fault_driver.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace resdb {
namespace pbft {
namespace simulation {

PbftFaultDriver::PbftFaultDriver(const ScenarioConfig& config, uint64_t seed,
                                 PbftClusterSim* cluster)
    : config_(config), rng_(seed * 0xD1B54A32D192ED03ULL + 3), cluster_(cluster) {
  if (config_.crash_primary || config_.silence_primary || config_.crash_primary_idle) {
    permanent_fault_tick_ = Between(config_.fault_ticks / 5, config_.fault_ticks / 2);
  }
  if (config_.equivocating_primary) cluster_->MakeByzantine(1);
  if (config_.forging_backup) cluster_->MakeForger(2);
  if (config_.forging_requests) cluster_->MakeRequestForger(2);
}

double PbftFaultDriver::Uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

int64_t PbftFaultDriver::Between(int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, std::max(lo, hi))(rng_);
}

size_t PbftFaultDriver::Faulty() const {
  size_t n = 0;
  for (int64_t id : cluster_->ids()) {
    if (!cluster_->IsUp(id) || cluster_->IsFaulty(id) || cluster_->IsArmed(id) ||
        isolated_until_.count(id)) {
      ++n;
    }
  }
  return n;
}

void PbftFaultDriver::Tick(int64_t tick) {
  RestartDue(tick);
  EndIsolations(tick);
  MaybePermanentFault(tick);
  MaybeCrash();
  MaybeIsolate(tick);
  Propose(config_.proposal_rate);
  cluster_->ServeClients();
  cluster_->RunTick();
  ScheduleRestarts(tick);
}

void PbftFaultDriver::Heal() {
  cluster_->Disarm();
  isolated_until_.clear();
  cluster_->network().HealLinks();
  restart_at_.clear();
  for (int64_t id : cluster_->ids()) cluster_->Restart(id);
}

void PbftFaultDriver::Propose(double rate) {
  const double whole = std::floor(rate);
  int n = static_cast<int>(whole);
  if (Uniform() < rate - whole) ++n;
  for (int i = 0; i < n; ++i) {
    cluster_->NewProposal(static_cast<int>(Between(1, config_.max_requests)));
  }
}

void PbftFaultDriver::RestartDue(int64_t tick) {
  for (auto it = restart_at_.begin(); it != restart_at_.end();) {
    if (it->second <= tick) {
      cluster_->Restart(it->first);
      it = restart_at_.erase(it);
    } else {
      ++it;
    }
  }
}

void PbftFaultDriver::ScheduleRestarts(int64_t tick) {
  for (int64_t id : cluster_->ids()) {
    if (!cluster_->IsUp(id) && !cluster_->IsFaulty(id) && restart_at_.count(id) == 0) {
      restart_at_[id] = tick + Between(config_.min_down_ticks, config_.max_down_ticks);
    }
  }
}

void PbftFaultDriver::EndIsolations(int64_t tick) {
  bool ended = false;
  for (auto it = isolated_until_.begin(); it != isolated_until_.end();) {
    if (it->second <= tick) {
      it = isolated_until_.erase(it);
      ended = true;
    } else {
      ++it;
    }
  }
  if (!ended) return;
  cluster_->network().HealLinks();
  for (const auto& [id, until] : isolated_until_) cluster_->network().Isolate(id, cluster_->ids());
}

void PbftFaultDriver::MaybePermanentFault(int64_t tick) {
  if (permanent_fault_tick_ < 0 || tick < permanent_fault_tick_) return;
  const int64_t primary = cluster_->Primary();
  // Wait for a primary that is up, correct and not otherwise disturbed.
  if (primary == 0 || cluster_->IsFaulty(primary) || cluster_->IsArmed(primary) ||
      isolated_until_.count(primary)) {
    return;
  }
  const int reach = static_cast<int>(Between(0, static_cast<int64_t>(cluster_->ids().size()) - 1));
  if (config_.crash_primary) {
    cluster_->Crash(primary, StrikePoint::kMidSend, /*forever=*/true, reach);
  } else if (config_.silence_primary) {
    cluster_->Silence(primary, reach);
  } else {
    cluster_->Crash(primary, StrikePoint::kNow, /*forever=*/true);
  }
  permanent_fault_tick_ = -1;
}

void PbftFaultDriver::MaybeCrash() {
  if (config_.crash_rate <= 0 || Uniform() >= config_.crash_rate) return;
  const size_t budget = config_.max_down < 0 ? cluster_->f()
                                             : std::min(static_cast<size_t>(config_.max_down),
                                                        cluster_->ids().size() - 1);
  if (Faulty() >= budget) return;
  std::vector<int64_t> candidates;
  for (int64_t id : cluster_->ids()) {
    if (cluster_->IsCorrectUp(id) && !cluster_->IsArmed(id) && !isolated_until_.count(id)) {
      candidates.push_back(id);
    }
  }
  if (candidates.empty()) return;
  int64_t victim = candidates[static_cast<size_t>(Between(0, candidates.size() - 1))];
  const int64_t primary = cluster_->Primary();
  if (std::count(candidates.begin(), candidates.end(), primary) > 0 &&
      Uniform() < config_.crash_primary_bias) {
    victim = primary;
  }
  const StrikePoint point = config_.crash_points.empty()
                                ? static_cast<StrikePoint>(Between(0, 3))
                                : config_.crash_points[static_cast<size_t>(Between(
                                      0, static_cast<int64_t>(config_.crash_points.size()) - 1))];
  cluster_->Crash(victim, point, /*forever=*/false);
}

void PbftFaultDriver::MaybeIsolate(int64_t tick) {
  if (config_.isolation_rate <= 0 || Uniform() >= config_.isolation_rate) return;
  if (Faulty() >= cluster_->f()) return;
  const int64_t primary = cluster_->Primary();
  std::vector<int64_t> candidates;
  for (int64_t id : cluster_->ids()) {
    if (cluster_->IsCorrectUp(id) && !cluster_->IsArmed(id) && !isolated_until_.count(id) &&
        (config_.isolate_any || id != primary)) {
      candidates.push_back(id);
    }
  }
  if (candidates.empty()) return;
  const int64_t id = candidates[static_cast<size_t>(Between(0, candidates.size() - 1))];
  isolated_until_[id] = tick + Between(config_.min_isolation_ticks, config_.max_isolation_ticks);
  cluster_->network().Isolate(id, cluster_->ids());
}

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb
