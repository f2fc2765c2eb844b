#include "platform/consensus/ordering/raft/published_state.h"

namespace resdb {
namespace raft {

void PublishedState::Publish(const RaftNode& node) {
  SetLeader(node.leader_id());
  term_.store(node.term());
  role_.store(static_cast<int>(node.role()));
  commit_index_.store(node.commit_index());
  first_index_.store(node.first_index());
  last_index_.store(node.last_index());
}

void PublishedState::SetLeader(int64_t leader) {
  leader_.store(leader);
  if (leader != 0) last_known_leader_.store(leader);
}

void PublishedState::SetSnapshot(uint64_t index) {
  uint64_t current = snapshot_index_.load();
  while (index > current && !snapshot_index_.compare_exchange_weak(current, index)) {
  }
}

int64_t PublishedState::leader_hint() const {
  const int64_t leader = leader_.load();
  return leader != 0 ? leader : last_known_leader_.load();
}

void PublishedState::Fill(ReplicaStatus* status) const {
  status->set_role(RoleName(static_cast<Role>(role_.load())));
  status->set_commit_index(commit_index_.load());
  status->set_applied_index(applied_index_.load());
  status->set_first_index(first_index_.load());
  status->set_last_index(last_index_.load());
  status->set_snapshot_index(snapshot_index_.load());
}

}  // namespace raft
}  // namespace resdb
