#include "platform/consensus/ordering/raft/simulation/membership_driver.h"

#include <algorithm>

namespace resdb {
namespace raft {

MembershipDriver::MembershipDriver(const ScenarioConfig& config, uint64_t seed,
                                   SimulatedCluster* cluster)
    : config_(config), rng_(seed * 0xA24BAED4963EE407ULL + 5), cluster_(cluster) {}

void MembershipDriver::Tick(int64_t tick) {
  DisarmDue(tick);
  if (config_.membership_change_rate > 0 && Uniform() < config_.membership_change_rate) {
    MaybeChange();
  }
  if (config_.change_crash_rate > 0 && Uniform() < config_.change_crash_rate) {
    MaybeCrashChanging(tick);
  }
}

double MembershipDriver::Uniform() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

size_t MembershipDriver::Pick(size_t size) {
  return std::uniform_int_distribution<size_t>(0, size - 1)(rng_);
}

void MembershipDriver::MaybeChange() {
  const int64_t leader = cluster_->Leader();
  if (leader == 0) return;
  const std::vector<std::vector<Choice>> kinds = Choices(leader, *cluster_->node(leader));
  if (kinds.empty()) return;
  const std::vector<Choice>& kind = kinds[Pick(kinds.size())];
  Choice choice = kind[Pick(kind.size())];
  if (choice.change == MembershipChange::kRemove &&
      IsVoterOf(cluster_->node(leader)->membership(), choice.node)) {
    choice = PickVoterToRemove(leader, *cluster_->node(leader));
  }
  // Proposed whether or not the leader can take it now: refusals (an uncommitted change, no
  // entry of its term committed yet) are part of what is tested.
  const bool accepted = cluster_->ProposeMembership(leader, choice.change, choice.node).ok();
  if (accepted && choice.change == MembershipChange::kRemove) {
    retired_.insert(choice.node);
    if (choice.node == leader) removed_leaders_.insert(leader);
  }
}

std::vector<std::vector<MembershipDriver::Choice>> MembershipDriver::Choices(
    int64_t leader, const RaftNode& raft) const {
  const Membership& m = raft.membership();
  std::vector<Choice> add, promote, remove_voter, remove_learner;
  for (int64_t id : cluster_->ids()) {
    if (!IsVoterOf(m, id) && !IsLearnerOf(m, id) && retired_.count(id) == 0) {
      add.push_back({MembershipChange::kAddLearner, id});
    }
  }
  for (int64_t learner : m.learners()) {
    remove_learner.push_back({MembershipChange::kRemove, learner});
    // A learner becomes a voter only once it holds what the leader committed: before that
    // the majority would have to wait for it.
    const Progress* pr = raft.progress(learner);
    if (pr != nullptr && pr->match() >= raft.commit_index()) {
      promote.push_back({MembershipChange::kAddVoter, learner});
    }
  }
  if (m.voters_size() > config_.min_voters) {
    remove_voter.push_back({MembershipChange::kRemove, leader});  // refined when picked
  }
  std::vector<std::vector<Choice>> kinds;
  for (std::vector<Choice>* kind : {&add, &promote, &remove_voter, &remove_learner}) {
    if (!kind->empty()) kinds.push_back(std::move(*kind));
  }
  return kinds;
}

MembershipDriver::Choice MembershipDriver::PickVoterToRemove(int64_t leader, const RaftNode& raft) {
  if (Uniform() < config_.self_removal_bias) return {MembershipChange::kRemove, leader};
  std::vector<int64_t> others;
  for (int64_t voter : raft.membership().voters()) {
    if (voter != leader) others.push_back(voter);
  }
  if (others.empty()) return {MembershipChange::kRemove, leader};
  return {MembershipChange::kRemove, others[Pick(others.size())]};
}

void MembershipDriver::MaybeCrashChanging(int64_t tick) {
  if (DownCount() >= config_.max_down) return;
  const std::vector<int64_t> candidates = CrashCandidates();
  if (candidates.empty()) return;
  const int64_t id = candidates[Pick(candidates.size())];
  const int num_points =
      config_.snapshot_every > 0 ? kNumCrashPointsWithSnapshots : kNumCrashPoints;
  const CrashPoint point = config_.crash_points.empty()
                               ? static_cast<CrashPoint>(Pick(static_cast<size_t>(num_points)))
                               : config_.crash_points[Pick(config_.crash_points.size())];
  cluster_->Crash(id, point);
  if (point != CrashPoint::kNow) disarm_at_[id] = tick + config_.max_down_ticks;
}

std::vector<int64_t> MembershipDriver::CrashCandidates() const {
  std::vector<int64_t> candidates;
  const int64_t leader = cluster_->Leader();
  if (leader != 0 && !cluster_->IsCrashArmed(leader)) {
    const RaftNode& raft = *cluster_->node(leader);
    if (raft.membership_index() > raft.commit_index()) candidates.push_back(leader);
  }
  for (int64_t id : removed_leaders_) {
    if (id != leader && cluster_->IsUp(id) && !cluster_->IsCrashArmed(id)) {
      candidates.push_back(id);
    }
  }
  return candidates;
}

int MembershipDriver::DownCount() const {
  int down = 0;
  for (int64_t id : cluster_->ids()) {
    if (!cluster_->IsUp(id) || cluster_->IsCrashArmed(id)) ++down;
  }
  return down;
}

void MembershipDriver::DisarmDue(int64_t tick) {
  for (auto it = disarm_at_.begin(); it != disarm_at_.end();) {
    if (!cluster_->IsCrashArmed(it->first)) {
      it = disarm_at_.erase(it);  // struck already, or called off elsewhere
    } else if (it->second <= tick) {
      cluster_->DisarmCrash(it->first);
      it = disarm_at_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace raft
}  // namespace resdb
