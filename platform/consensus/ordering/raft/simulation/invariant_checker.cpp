#include "platform/consensus/ordering/raft/simulation/invariant_checker.h"

#include <algorithm>
#include <iterator>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "platform/consensus/ordering/raft/membership.h"

namespace resdb {
namespace raft {
namespace {

std::string Describe(uint64_t index, uint64_t term, const std::string& data) {
  return absl::StrCat("(index ", index, ", term ", term, ", data '", data, "')");
}

// The configuration a CONFIG entry sets; nullopt for other entries and for data that does not
// parse.
std::optional<Membership> ConfigOf(const Entry& e) {
  if (e.type() != Entry::CONFIG) return std::nullopt;
  Membership m;
  if (!m.ParseFromString(e.data())) return std::nullopt;
  return m;
}

// Field by field: serialized maps have no canonical order.
bool SameMembership(const Membership& a, const Membership& b) {
  if (!std::equal(a.voters().begin(), a.voters().end(), b.voters().begin(), b.voters().end()) ||
      !std::equal(a.learners().begin(), a.learners().end(), b.learners().begin(),
                  b.learners().end()) ||
      a.addresses_size() != b.addresses_size()) {
    return false;
  }
  for (const auto& [id, address] : a.addresses()) {
    auto it = b.addresses().find(id);
    if (it == b.addresses().end() || it->second != address) return false;
  }
  return true;
}

uint64_t ChainHash(uint64_t prev, const Entry& e) {
  uint64_t h = HashU64(prev, e.index());
  h = HashU64(h, e.term());
  h = HashU64(h, static_cast<uint64_t>(e.type()));
  return HashBytes(h, e.data().data(), e.data().size());
}

}  // namespace

uint64_t HashBytes(uint64_t hash, const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= p[i];
    hash *= 1099511628211ULL;
  }
  return hash;
}

uint64_t HashU64(uint64_t hash, uint64_t value) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  return HashBytes(hash, bytes, sizeof(bytes));
}

void InvariantChecker::Fail(std::string description) {
  if (violation_.empty()) violation_ = std::move(description);
}

InvariantChecker::DurableLog& InvariantChecker::Durable(int64_t node) {
  auto [it, inserted] = durable_.try_emplace(node);
  if (inserted) it->second.base_chain = kHashSeed;
  return it->second;
}

void InvariantChecker::OnDurableTruncate(int64_t node, uint64_t from_index) {
  DurableLog& log = Durable(node);
  if (from_index == 0) return;
  if (from_index <= log.base_index) {
    Fail(absl::StrCat("node ", node, " truncated its durable log from ", from_index,
                      ", at or below its compaction boundary ", log.base_index));
    return;
  }
  const uint64_t keep = from_index - 1 - log.base_index;
  if (keep < log.entries.size()) log.entries.resize(keep);
  log.configs.erase(log.configs.lower_bound(from_index), log.configs.end());
}

void InvariantChecker::OnDurableAppend(int64_t node, const std::vector<Entry>& entries) {
  DurableLog& log = Durable(node);
  for (const Entry& e : entries) {
    const uint64_t last = log.base_index + log.entries.size();
    if (e.index() != last + 1) {
      Fail(absl::StrCat("durable log of node ", node, " would get entry ",
                        Describe(e.index(), e.term(), e.data()), " after index ", last));
      return;
    }
    const uint64_t prev = log.entries.empty() ? log.base_chain : log.entries.back().first;
    const uint64_t chain = ChainHash(prev, e);
    log.entries.emplace_back(chain, e.term());
    if (e.type() == Entry::CONFIG) {
      std::optional<Membership> config = ConfigOf(e);
      if (!config.has_value()) {
        Fail(absl::StrCat("node ", node, " wrote CONFIG entry ", Describe(e.index(), e.term(), ""),
                          " whose data is no Membership"));
        return;
      }
      log.configs[e.index()] = std::move(*config);
    }
    auto [it, inserted] =
        chains_.emplace(std::make_pair(e.index(), e.term()), std::make_pair(chain, node));
    if (!inserted && it->second.first != chain) {
      Fail(absl::StrCat("log matching: node ", node, " holds entry ",
                        Describe(e.index(), e.term(), e.data()),
                        " whose log up to it differs from the one node ", it->second.second,
                        " held with the same index and term"));
      return;
    }
  }
}

void InvariantChecker::OnDurableCompact(int64_t node, uint64_t index, uint64_t term) {
  DurableLog& log = Durable(node);
  if (index <= log.base_index) return;  // already compacted (RaftLog::CompactTo: a no-op)
  const uint64_t offset = index - log.base_index;  // position of `index` plus one
  if (offset <= log.entries.size() && log.entries[offset - 1].second == term) {
    // The log holds the boundary entry: the entries after it stay.
    log.base_chain = log.entries[offset - 1].first;
    log.entries.erase(log.entries.begin(), log.entries.begin() + static_cast<ptrdiff_t>(offset));
    log.configs.erase(log.configs.begin(), log.configs.upper_bound(index));
  } else {
    // The log restarts after the boundary. Its chain hash is the one every log holding
    // (index, term) has; a snapshot of an entry no log ever held is a harness bug.
    auto it = chains_.find({index, term});
    if (it == chains_.end()) {
      Fail(absl::StrCat("node ", node, " compacted its log to (index ", index, ", term ", term,
                        "), an entry no durable log ever held"));
      return;
    }
    log.base_chain = it->second.first;
    log.entries.clear();
    log.configs.clear();
  }
  log.base_index = index;
}

void InvariantChecker::CheckRestoredLog(int64_t node, uint64_t first_index,
                                        const std::vector<Entry>& entries) {
  const DurableLog& log = Durable(node);
  if (first_index != log.base_index + 1 || entries.size() != log.entries.size()) {
    Fail(absl::StrCat("node ", node, " restarted with ", entries.size(),
                      " durable entries from index ", first_index, " but had written ",
                      log.entries.size(), " from index ", log.base_index + 1));
    return;
  }
  uint64_t chain = log.base_chain;
  for (size_t i = 0; i < entries.size(); ++i) {
    chain = ChainHash(chain, entries[i]);
    if (chain != log.entries[i].first) {
      Fail(absl::StrCat("node ", node, " restarted with durable entry ",
                        Describe(entries[i].index(), entries[i].term(), entries[i].data()),
                        " that differs from what it wrote"));
      return;
    }
  }
}

void InvariantChecker::OnApply(int64_t node, uint64_t node_term, const Entry& entry) {
  auto it = committed_.find(entry.index());
  if (it == committed_.end()) {
    Committed c;
    c.term = entry.term();
    c.data = entry.data();
    c.commit_term = node_term;
    committed_.emplace(entry.index(), std::move(c));
    commit_order_.push_back(entry.index());
    if (std::optional<Membership> config = ConfigOf(entry)) {
      committed_configs_.emplace(entry.index(), std::move(*config));
    }
    return;
  }
  Committed& c = it->second;
  if (c.term != entry.term() || c.data != entry.data()) {
    Fail(absl::StrCat("state machine safety: node ", node, " applied ",
                      Describe(entry.index(), entry.term(), entry.data()),
                      " but another node applied ", Describe(entry.index(), c.term, c.data)));
    return;
  }
  c.commit_term = std::min(c.commit_term, node_term);
}

void InvariantChecker::OnInstall(int64_t node, uint64_t node_term,
                                 const std::vector<Entry>& state) {
  for (size_t i = 0; i < state.size() && ok(); ++i) {
    if (state[i].index() != i + 1) {
      Fail(absl::StrCat("node ", node, " installed a snapshot holding index ", state[i].index(),
                        " at position ", i + 1));
      return;
    }
    OnApply(node, node_term, state[i]);
  }
}

void InvariantChecker::CheckLeaderHas(int64_t leader, uint64_t leader_term, const RaftNode& node,
                                      uint64_t index) {
  const Committed& c = committed_.at(index);
  if (c.commit_term >= leader_term) return;  // maybe committed after this term began
  // Below the compaction boundary the entry is in the leader's snapshot, whose entries were
  // all checked against committed_ when applied or installed.
  if (index + 1 < node.first_index()) return;
  const std::optional<uint64_t> term = node.TermAt(index);
  if (!term.has_value() || *term != c.term) {
    Fail(absl::StrCat("leader completeness: node ", leader, ", leader of term ", leader_term,
                      ", lacks committed entry ", Describe(index, c.term, c.data),
                      " (committed by term ", c.commit_term, "); its log has ",
                      term.has_value() ? absl::StrCat("term ", *term) : "nothing",
                      " there and ends at index ", node.last_index()));
  }
}

void InvariantChecker::CheckNodes(const std::map<int64_t, const RaftNode*>& live) {
  for (const auto& [id, node] : live) {
    if (node->role() != Role::kLeader) continue;
    const uint64_t term = node->term();
    auto [it, inserted] = leaders_.emplace(term, LeaderCheck{id, 0});
    if (!inserted && it->second.leader != id) {
      Fail(absl::StrCat("election safety: nodes ", it->second.leader, " and ", id,
                        " were both leader of term ", term));
      return;
    }
    LeaderCheck& check = it->second;
    for (; check.checked < commit_order_.size(); ++check.checked) {
      CheckLeaderHas(id, term, *node, commit_order_[check.checked]);
      if (!ok()) return;
    }
  }
  for (const auto& [id, node] : live) {
    auto view = views_.find(id);
    const bool new_leader =
        node->role() == Role::kLeader &&
        (view == views_.end() || !view->second.leader || view->second.term != node->term());
    CheckMembership(id, *node, new_leader);
    views_[id] = NodeView{node->term(), node->role() == Role::kLeader, node->commit_index()};
  }
}

void InvariantChecker::OnRestart(int64_t node, uint64_t membership_floor) {
  views_.erase(node);
  membership_floors_[node] = membership_floor;
}

void InvariantChecker::OnCrash(int64_t node, const RaftNode& raft) {
  // What the node committed in the step in which it crashes is lost with it, but it was
  // decided, and that decision must have been sound.
  CheckLeaderCommit(node, raft);
  views_.erase(node);
}

void InvariantChecker::CheckMembership(int64_t id, const RaftNode& node, bool new_leader) {
  if (ok()) CheckLeaderCommit(id, node);
  if (ok()) CheckOneChangeAtATime(id, node);
  if (ok()) CheckLeaderIsVoter(id, node, new_leader);
  if (ok()) CheckConfigAgreement(id, node);
}

bool InvariantChecker::DurablyHolds(int64_t node, uint64_t index, uint64_t term) {
  const DurableLog& log = Durable(node);
  // Below the boundary the entry is in the node's snapshot, which holds committed state only.
  if (index <= log.base_index) return true;
  const uint64_t offset = index - log.base_index;
  return offset <= log.entries.size() && log.entries[offset - 1].second == term;
}

void InvariantChecker::CheckCommitQuorum(int64_t leader, const Membership& config, uint64_t index,
                                         uint64_t term) {
  std::vector<int64_t> holders;
  for (int64_t voter : config.voters()) {
    if (DurablyHolds(voter, index, term)) holders.push_back(voter);
  }
  if (holders.size() * 2 > static_cast<size_t>(config.voters_size())) return;
  Fail(absl::StrCat("commit quorum: node ", leader, " committed (index ", index, ", term ", term,
                    ") but only voters [", absl::StrJoin(holders, ", "), "] of its configuration ",
                    DescribeMembership(config), " hold it durably"));
}

void InvariantChecker::CheckLeaderCommit(int64_t id, const RaftNode& node) {
  auto view = views_.find(id);
  if (view == views_.end() || node.commit_index() <= view->second.commit) return;
  // A leader commits by counting replicas. It may have stepped down within the step that
  // committed (its own removal), but in the same term nobody else advanced its commit index.
  const bool counted =
      node.role() == Role::kLeader || (view->second.leader && view->second.term == node.term());
  if (!counted) return;
  const std::optional<uint64_t> term = node.TermAt(node.commit_index());
  if (!term.has_value()) {
    Fail(absl::StrCat("node ", id, " committed index ", node.commit_index(),
                      " that its log does not hold"));
    return;
  }
  CheckCommitQuorum(id, node.membership(), node.commit_index(), *term);
}

void InvariantChecker::CheckOneChangeAtATime(int64_t id, const RaftNode& node) {
  if (node.role() != Role::kLeader || node.TermAt(node.commit_index()) != node.term()) return;
  const DurableLog& log = Durable(id);
  auto first = log.configs.upper_bound(node.commit_index());
  const size_t uncommitted = std::distance(first, log.configs.end());
  const std::string where = absl::StrCat("one change at a time: leader ", id, " of term ",
                                         node.term(), " (commit ", node.commit_index(), ")");
  if (uncommitted > 1) {
    Fail(absl::StrCat(where, " holds ", uncommitted, " uncommitted CONFIG entries, from index ",
                      first->first));
    return;
  }
  if (uncommitted == 0) {
    if (node.membership_index() > node.commit_index()) {
      Fail(absl::StrCat(where, " has a configuration from index ", node.membership_index(),
                        " where its log holds no CONFIG entry"));
    }
    return;
  }
  const uint64_t index = first->first;
  const uint64_t term = log.entries[index - log.base_index - 1].second;
  if (term != node.term() || node.membership_index() != index ||
      !SameMembership(node.membership(), first->second)) {
    Fail(absl::StrCat(where, " holds an uncommitted CONFIG entry (index ", index, ", term ", term,
                      ", ", DescribeMembership(first->second), ") but its configuration is ",
                      DescribeMembership(node.membership()), " from index ",
                      node.membership_index()));
  }
}

void InvariantChecker::CheckLeaderIsVoter(int64_t id, const RaftNode& node, bool new_leader) {
  if (node.role() != Role::kLeader || IsVoterOf(node.membership(), id)) return;
  const std::string config = DescribeMembership(node.membership());
  if (new_leader) {
    Fail(absl::StrCat("leaders are voters: node ", id, " became leader of term ", node.term(),
                      " outside the voters of its configuration ", config));
    return;
  }
  // Only its own removal, still uncommitted, may leave a leader outside the voters.
  if (node.membership_index() <= node.commit_index() ||
      node.TermAt(node.membership_index()) != node.term()) {
    Fail(absl::StrCat("leaders are voters: node ", id, " still leads term ", node.term(),
                      " although its removal (", config, " from index ", node.membership_index(),
                      ") is committed or not its own (commit ", node.commit_index(), ")"));
  }
}

void InvariantChecker::CheckConfigAgreement(int64_t id, const RaftNode& node) {
  // MembershipAt is defined from the log's start, and a restarted node knows nothing finer
  // than the membership it restored below that membership's index.
  uint64_t floor = node.first_index() - 1;
  auto restored = membership_floors_.find(id);
  if (restored != membership_floors_.end()) floor = std::max(floor, restored->second);
  const uint64_t commit = node.commit_index();
  if (commit < floor) return;
  auto check = [&](const std::map<uint64_t, Membership>& configs, const char* source) {
    for (auto it = configs.lower_bound(floor); it != configs.end() && it->first <= commit; ++it) {
      const Membership& at = node.MembershipAt(it->first);
      if (SameMembership(at, it->second)) continue;
      Fail(absl::StrCat("configuration agreement: node ", id, " has ", DescribeMembership(at),
                        " at committed CONFIG index ", it->first, " where ", source, " says ",
                        DescribeMembership(it->second)));
      return false;
    }
    return true;
  };
  if (check(committed_configs_, "the entry applied there")) {
    check(Durable(id).configs, "its own log");
  }
}

uint64_t InvariantChecker::max_committed_index() const {
  return committed_.empty() ? 0 : committed_.rbegin()->first;
}

}  // namespace raft
}  // namespace resdb
