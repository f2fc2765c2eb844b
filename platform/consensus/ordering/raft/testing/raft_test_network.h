#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_TESTING_RAFT_TEST_NETWORK_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_TESTING_RAFT_TEST_NETWORK_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "platform/consensus/ordering/raft/raft_node.h"

namespace resdb {
namespace raft {
namespace raft_test {

// ---------------------------------------------------------------------------
// A deterministic in-test network of RaftNodes. Each node's Ready is handled the way the
// real glue does it: persist the hard state and log, queue the messages, apply the
// committed entries, Advance. Messages are delivered in FIFO order (after a round trip
// through serialization), unless a link is cut or the random drop says otherwise.
// Every apply is checked against every other node's applies (state machine safety) and
// every leader against the other leaders of its term (election safety).

struct NodeStorage {
  HardState hard_state;
  // The durable log's compaction boundary, and every snapshot a Ready asked to record.
  SnapshotMetadata snapshot;
  std::vector<SnapshotMetadata> snapshots;
  std::map<uint64_t, Entry> log;
  std::vector<Entry> applied;
  std::vector<ReadState> read_states;
  std::vector<uint64_t> dropped_reads;
  std::vector<std::pair<uint64_t, std::string>> dropped_proposals;
};

class Network {
 public:
  explicit Network(int n, std::function<void(RaftNodeOptions&)> tweak = nullptr,
                   std::map<int64_t, RaftRestoredState> restored = {})
      : drop_rng_(7) {
    std::vector<int64_t> voters;
    for (int64_t id = 1; id <= n; ++id) voters.push_back(id);
    for (int64_t id = 1; id <= n; ++id) {
      RaftNodeOptions options;
      options.id = id;
      options.voters = voters;
      if (tweak) tweak(options);
      options_[id] = options;
      RaftRestoredState state = restored.count(id) ? restored[id] : RaftRestoredState{};
      NodeStorage& s = storage_[id];
      s.hard_state = state.hard_state;
      for (const Entry& e : state.entries) s.log[e.index()] = e;
      nodes_[id] = std::make_unique<RaftNode>(options, state);
    }
  }

  // Adds node `id` (a replica joining the running cluster, or a spare) with `options`.
  void AddNode(int64_t id, RaftNodeOptions options) {
    options.id = id;
    options_[id] = options;
    storage_[id] = NodeStorage();
    nodes_[id] = std::make_unique<RaftNode>(options, RaftRestoredState{});
  }

  RaftNode& node(int64_t id) { return *nodes_.at(id); }
  NodeStorage& storage(int64_t id) { return storage_.at(id); }
  std::vector<int64_t> ids() const {
    std::vector<int64_t> out;
    for (const auto& [id, n] : nodes_) out.push_back(id);
    return out;
  }

  // Rebuilds node `id` from what it persisted, as after a crash.
  void Restart(int64_t id) {
    RaftRestoredState state;
    state.hard_state = storage_[id].hard_state;
    state.snapshot = storage_[id].snapshot;
    for (const auto& [index, e] : storage_[id].log) state.entries.push_back(e);
    storage_[id].applied.clear();
    nodes_[id] = std::make_unique<RaftNode>(options_[id], state);
  }

  // Plays the caller's side of a snapshot transfer to node `id`: its state machine takes
  // the committed entries up to the snapshot's index, then the node is told.
  absl::Status InstallSnapshot(int64_t id, const SnapshotMetadata& metadata) {
    const uint64_t index = metadata.last_included_index();
    if (index > node(id).commit_index() && node(id).role() != Role::kLeader) {
      NodeStorage& s = storage_[id];
      s.applied.clear();
      for (const auto& [i, e] : committed_) {
        if (i > index) break;
        s.applied.push_back(e);
      }
    }
    return node(id).RestoreSnapshot(metadata);
  }

  void Isolate(int64_t id) { isolated_.insert(id); }
  void Cut(int64_t a, int64_t b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void Heal() {
    isolated_.clear();
    cut_.clear();
  }
  void set_drop_rate(double rate) { drop_rate_ = rate; }
  // Delivers each batch in a random order and delivers some messages twice.
  void set_reorder_and_duplicate(double duplicate_rate) {
    reorder_ = true;
    duplicate_rate_ = duplicate_rate;
  }

  void ProcessReady(int64_t id) {
    RaftNode& n = node(id);
    CheckElectionSafety(id);
    while (n.HasReady()) {
      Ready rd = n.GetReady();
      NodeStorage& s = storage_[id];
      if (rd.hard_state.has_value()) s.hard_state = *rd.hard_state;
      if (rd.snapshot.has_value()) {
        // What RaftLog::CompactTo does: keep the entries after a matching boundary.
        const uint64_t index = rd.snapshot->last_included_index();
        auto at = s.log.find(index);
        if (at != s.log.end() && at->second.term() == rd.snapshot->last_included_term()) {
          s.log.erase(s.log.begin(), s.log.upper_bound(index));
        } else {
          s.log.clear();
        }
        s.snapshot = *rd.snapshot;
        s.snapshots.push_back(*rd.snapshot);
        if (rd.truncate_from != 0) {
          EXPECT_GT(rd.truncate_from, index) << "node " << id;
        }
      }
      if (rd.truncate_from != 0) {
        s.log.erase(s.log.lower_bound(rd.truncate_from), s.log.end());
      }
      for (const Entry& e : rd.entries) s.log[e.index()] = e;
      for (const RaftMessage& m : rd.messages) {
        sent_.push_back(m);
        queue_.push_back(m);
      }
      for (const Entry& e : rd.committed_entries) Apply(id, e);
      for (const ReadState& r : rd.read_states) s.read_states.push_back(r);
      for (uint64_t c : rd.dropped_reads) s.dropped_reads.push_back(c);
      for (const auto& d : rd.dropped_proposals) s.dropped_proposals.push_back(d);
      n.Advance(rd);
    }
  }

  void ProcessAllReady() {
    for (int64_t id : ids()) ProcessReady(id);
  }

  // Delivers every queued message once.
  void DeliverAll() {
    std::deque<RaftMessage> queue;
    queue.swap(queue_);
    if (reorder_) {
      std::shuffle(queue.begin(), queue.end(), drop_rng_);
      const size_t n = queue.size();
      for (size_t i = 0; i < n; ++i) {
        if (std::uniform_real_distribution<double>(0, 1)(drop_rng_) < duplicate_rate_) {
          queue.push_back(queue[i]);
        }
      }
    }
    for (const RaftMessage& m : queue) Deliver(m);
  }

  // Runs the cluster without ticking until no node has anything left to do.
  void Stabilize(int max_rounds = 1000) {
    for (int round = 0; round < max_rounds; ++round) {
      ProcessAllReady();
      if (queue_.empty()) return;
      DeliverAll();
    }
    ADD_FAILURE() << "cluster did not stabilize";
  }

  void TickAll() {
    for (int64_t id : ids()) node(id).Tick();
  }

  // Ticks all nodes and stabilizes after each tick until a leader emerges.
  int64_t TickUntilLeader(int max_ticks = 500) {
    for (int t = 0; t < max_ticks; ++t) {
      TickAll();
      Stabilize();
      int64_t leader = Leader();
      if (leader != 0) return leader;
    }
    return 0;
  }

  // The leader with the highest term, or 0.
  int64_t Leader() {
    int64_t leader = 0;
    uint64_t term = 0;
    for (int64_t id : ids()) {
      if (isolated_.count(id)) continue;
      if (node(id).role() == Role::kLeader && node(id).term() >= term) {
        leader = id;
        term = node(id).term();
      }
    }
    return leader;
  }

  const std::vector<RaftMessage>& sent() const { return sent_; }
  void ClearSent() { sent_.clear(); }
  std::deque<RaftMessage>& queue() { return queue_; }
  const std::map<uint64_t, Entry>& committed() const { return committed_; }
  // Number of terms that had a leader.
  size_t leader_terms() const { return leaders_.size(); }

 private:
  bool Blocked(const RaftMessage& m) {
    if (isolated_.count(m.from) || isolated_.count(m.to)) return true;
    if (cut_.count({m.from, m.to})) return true;
    if (drop_rate_ > 0 && std::uniform_real_distribution<double>(0, 1)(drop_rng_) < drop_rate_) {
      return true;
    }
    return false;
  }

  void Deliver(const RaftMessage& m) {
    if (Blocked(m)) return;
    absl::StatusOr<RaftMessage> parsed =
        RaftMessage::Parse(m.from, m.to, m.user_type, m.SerializePayload());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(node(m.to).Step(*parsed).ok());
  }

  void Apply(int64_t id, const Entry& e) {
    NodeStorage& s = storage_[id];
    // Entries are applied in order, and only once they are durable on this node.
    if (!s.applied.empty()) {
      EXPECT_EQ(e.index(), s.applied.back().index() + 1) << "node " << id;
    }
    auto durable = s.log.find(e.index());
    EXPECT_TRUE(durable != s.log.end() && durable->second.term() == e.term())
        << "node " << id << " applies index " << e.index() << " before persisting it";
    s.applied.push_back(e);
    auto [it, inserted] = committed_.emplace(e.index(), e);
    if (!inserted) {
      EXPECT_EQ(it->second.term(), e.term()) << "index " << e.index() << " node " << id;
      EXPECT_EQ(it->second.data(), e.data()) << "index " << e.index() << " node " << id;
    }
  }

  void CheckElectionSafety(int64_t id) {
    if (node(id).role() != Role::kLeader) return;
    auto [it, inserted] = leaders_.emplace(node(id).term(), id);
    EXPECT_EQ(it->second, id) << "two leaders in term " << node(id).term();
  }

  std::map<int64_t, RaftNodeOptions> options_;
  std::map<int64_t, std::unique_ptr<RaftNode>> nodes_;
  std::map<int64_t, NodeStorage> storage_;
  std::deque<RaftMessage> queue_;
  std::vector<RaftMessage> sent_;
  std::set<int64_t> isolated_;
  std::set<std::pair<int64_t, int64_t>> cut_;
  double drop_rate_ = 0;
  bool reorder_ = false;
  double duplicate_rate_ = 0;
  std::mt19937_64 drop_rng_;
  std::map<uint64_t, Entry> committed_;
  std::map<uint64_t, int64_t> leaders_;
};

inline Entry MakeEntry(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_type(data.empty() ? Entry::NOOP : Entry::NORMAL);
  e.set_data(std::move(data));
  return e;
}

// A restored state holding entries with the given terms at indices 1, 2, ...
inline RaftRestoredState LogWithTerms(const std::vector<uint64_t>& terms, uint64_t current_term) {
  RaftRestoredState state;
  state.hard_state.set_current_term(current_term);
  for (size_t i = 0; i < terms.size(); ++i) {
    state.entries.push_back(MakeEntry(i + 1, terms[i], "e" + std::to_string(i + 1)));
  }
  return state;
}

template <typename T>
std::vector<T> PayloadsOf(const std::vector<RaftMessage>& messages, int64_t from = 0,
                          int64_t to = 0) {
  std::vector<T> out;
  for (const RaftMessage& m : messages) {
    if (from != 0 && m.from != from) continue;
    if (to != 0 && m.to != to) continue;
    if (const T* p = std::get_if<T>(&m.payload)) out.push_back(*p);
  }
  return out;
}

// Appends carrying entries (heartbeats and empty appends excluded).
inline std::vector<AppendEntriesRequest> EntryAppends(const std::vector<RaftMessage>& messages,
                                                      int64_t to) {
  std::vector<AppendEntriesRequest> out;
  for (const AppendEntriesRequest& a : PayloadsOf<AppendEntriesRequest>(messages, 0, to)) {
    if (a.entries_size() > 0) out.push_back(a);
  }
  return out;
}

inline RaftMessage VoteResponse(int64_t from, int64_t to, uint64_t term, bool granted, bool pre) {
  RequestVoteResponse resp;
  resp.set_term(term);
  resp.set_voter_id(from);
  resp.set_vote_granted(granted);
  resp.set_pre_vote(pre);
  return RaftMessage::Make(from, to, resp);
}

inline RaftNodeOptions ThreeNodeOptions(int64_t id) {
  RaftNodeOptions options;
  options.id = id;
  options.voters = {1, 2, 3};
  return options;
}

inline int64_t ElectViaCampaign(Network& net, int64_t id) {
  EXPECT_TRUE(net.node(id).Campaign().ok());
  net.Stabilize();
  EXPECT_EQ(net.node(id).role(), Role::kLeader);
  return id;
}

}  // namespace raft_test
}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_TESTING_RAFT_TEST_NETWORK_H_
