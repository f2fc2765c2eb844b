#ifndef PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_INVARIANT_CHECKER_H_
#define PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_INVARIANT_CHECKER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "platform/consensus/ordering/raft/proto/raft.pb.h"
#include "platform/consensus/ordering/raft/raft_node.h"

namespace resdb {
namespace raft {

// Checks RAFT's safety properties (Raft paper, figure 3) over a whole simulated run:
//  - election safety: at most one leader per term, ever;
//  - log matching: two durable logs holding an entry with the same index and term hold the
//    same entries up to it. Each durable log is summarised by a chain hash per index
//    (hash of the entry and of the chain hash before it); an (index, term) pair must map to
//    one chain hash across all nodes and all time, because only the leader of a term
//    creates entries of that term and it never changes the log below them. A compacted log
//    keeps the chain hash of its compaction boundary, so only entries that both logs still
//    hold are compared;
//  - leader completeness: an entry committed in term T is in the log of every leader of a
//    term > T. An entry is known committed once some node applies it; the applying node's
//    term then bounds the term it was committed in from above. Entries a leader compacted
//    are in its snapshot, whose every entry was checked when it was applied or installed;
//  - state-machine safety: no two nodes apply different entries at the same index. A node
//    that installs a snapshot applies all of the snapshot's entries at once.
// And membership changes (one server at a time, Raft thesis 4.1):
//  - commit quorum: when a leader's commit index advances (while it leads, or in the step in
//    which it stepped down in the same term after its own removal committed), the entry at
//    the new commit index is in the durable log (or below the compaction boundary) of a
//    majority of the voters of the configuration the leader is in at that moment. Learners
//    and a leader that removed itself do not count;
//  - one change at a time: once a leader has committed an entry of its term, its log holds at
//    most one CONFIG entry above its commit index, of its own term, and the configuration
//    in effect is the one that entry sets (membership_index() points at it);
//  - leaders are voters: a node is a voter of its own configuration when it becomes leader,
//    and a leader that is not one is a leader whose removal (an entry of its term) is not
//    committed yet;
//  - configuration agreement: for every committed CONFIG index a node holds (at or above its
//    compaction boundary and the membership it restored at restart), MembershipAt(index)
//    is what that entry says, and what every other node applied there.
// The first violation is kept (described in words); later ones are ignored.
class InvariantChecker {
 public:
  // `node` removed its durable entries >= from_index.
  void OnDurableTruncate(int64_t node, uint64_t from_index);
  // `node` appended `entries` to its durable log.
  void OnDurableAppend(int64_t node, const std::vector<Entry>& entries);
  // `node` recorded a compaction boundary at (index, term) in its durable log (see
  // RaftLog::CompactTo): entries up to it are gone; the ones after it are kept if the log
  // held `index` with `term`, otherwise the log is now empty after the boundary.
  void OnDurableCompact(int64_t node, uint64_t index, uint64_t term);
  // `node` read back `entries` (from `first_index`, right after its compaction boundary)
  // from its durable log at restart: they must be what it wrote.
  void CheckRestoredLog(int64_t node, uint64_t first_index, const std::vector<Entry>& entries);
  // `node`, at term `node_term`, applied `entry`.
  void OnApply(int64_t node, uint64_t node_term, const Entry& entry);
  // `node`, at term `node_term`, installed a snapshot whose state is `state` (every entry up
  // to the snapshot's index, in index order): it applied all of them.
  void OnInstall(int64_t node, uint64_t node_term, const std::vector<Entry>& state);
  // Called after every step with the nodes that are up.
  void CheckNodes(const std::map<int64_t, const RaftNode*>& live);
  // `node` restarted; its RaftNode restored the membership in effect at `membership_floor`
  // (0: none), which stands for every index at or below it.
  void OnRestart(int64_t node, uint64_t membership_floor);
  // `node` is about to crash: what it did in the step that ends here is checked first.
  void OnCrash(int64_t node, const RaftNode& raft);
  // The commit quorum check: the entry (index, term) that `leader` just committed must be
  // durably held by a majority of the voters of `config`.
  void CheckCommitQuorum(int64_t leader, const Membership& config, uint64_t index, uint64_t term);

  // Records a violation found elsewhere (keeps only the first).
  void Fail(std::string description);

  bool ok() const { return violation_.empty(); }
  const std::string& violation() const { return violation_; }
  // Distinct (term, leader) pairs seen.
  size_t leaders_seen() const { return leaders_.size(); }
  uint64_t max_committed_index() const;

 private:
  struct Committed {
    uint64_t term = 0;
    std::string data;
    // Upper bound of the term in which the entry was committed.
    uint64_t commit_term = 0;
  };
  struct LeaderCheck {
    int64_t leader = 0;
    // Committed entries (by position in commit_order_) already checked against its log.
    size_t checked = 0;
  };

  // A node's durable log as the checker knows it.
  struct DurableLog {
    // The compaction boundary and the chain hash of the entry there (kHashSeed at 0).
    uint64_t base_index = 0;
    uint64_t base_chain = 0;
    // Chain hash and term of every entry after the boundary, base_index + 1 first.
    std::vector<std::pair<uint64_t, uint64_t>> entries;
    // The CONFIG entries among them: index -> the configuration they set.
    std::map<uint64_t, Membership> configs;
  };

  // What a live node looked like at the end of the previous step.
  struct NodeView {
    uint64_t term = 0;
    bool leader = false;
    uint64_t commit = 0;
  };

  DurableLog& Durable(int64_t node);
  // Whether `node`'s durable log holds (index, term), or compacted it away.
  bool DurablyHolds(int64_t node, uint64_t index, uint64_t term);
  // The membership checks for one live node; `new_leader` if it leads a term not seen before.
  void CheckMembership(int64_t id, const RaftNode& node, bool new_leader);
  void CheckLeaderCommit(int64_t id, const RaftNode& node);
  void CheckOneChangeAtATime(int64_t id, const RaftNode& node);
  void CheckLeaderIsVoter(int64_t id, const RaftNode& node, bool new_leader);
  void CheckConfigAgreement(int64_t id, const RaftNode& node);
  void CheckLeaderHas(int64_t leader, uint64_t leader_term, const RaftNode& node, uint64_t index);

  std::string violation_;
  std::map<int64_t, DurableLog> durable_;
  // (index, term) -> (chain hash, first node that wrote it).
  std::map<std::pair<uint64_t, uint64_t>, std::pair<uint64_t, int64_t>> chains_;
  // index -> the entry applied there.
  std::map<uint64_t, Committed> committed_;
  std::vector<uint64_t> commit_order_;
  // term -> leader check of that term's leader.
  std::map<uint64_t, LeaderCheck> leaders_;
  // index -> the configuration of the CONFIG entry applied there.
  std::map<uint64_t, Membership> committed_configs_;
  std::map<int64_t, NodeView> views_;
  std::map<int64_t, uint64_t> membership_floors_;
};

// FNV-1a, used for chain and trace hashes (stable across platforms and runs).
uint64_t HashBytes(uint64_t hash, const void* data, size_t size);
uint64_t HashU64(uint64_t hash, uint64_t value);
inline constexpr uint64_t kHashSeed = 1469598103934665603ULL;

}  // namespace raft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_RAFT_SIMULATION_INVARIANT_CHECKER_H_
