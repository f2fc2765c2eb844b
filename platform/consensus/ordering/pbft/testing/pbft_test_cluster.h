#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_TESTING_PBFT_TEST_CLUSTER_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_TESTING_PBFT_TEST_CLUSTER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_digest.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"

namespace resdb {
namespace pbft {
namespace pbft_test {

using Executed = std::vector<std::pair<uint64_t, std::string>>;

inline std::string Batch(const std::string& payload) {
  BatchUserRequest batch;
  batch.add_requests()->set_data(payload);
  std::string out;
  batch.SerializeToString(&out);
  return out;
}

inline Request PrePrepare(int64_t sender, uint64_t view, uint64_t seq, const std::string& data) {
  Request m;
  m.set_type(Request::TYPE_PRE_PREPARE);
  m.set_sender_id(sender);
  m.set_view(view);
  m.set_seq(seq);
  m.set_data(data);
  m.set_hash(BatchDigest(data));
  return m;
}

inline Request Vote(Request::Type type, int64_t sender, uint64_t seq, const std::string& data) {
  Request m;
  m.set_type(type);
  m.set_sender_id(sender);
  m.set_view(0);
  m.set_seq(seq);
  m.set_hash(BatchDigest(data));
  return m;
}

// `sender`'s VIEWCHANGE for `view` from the genesis checkpoint, carrying `certs`.
inline Request ViewChangeMessage(int64_t sender, uint64_t view,
                                 const std::vector<PreparedCertificate>& certs) {
  ViewChange vc;
  for (const PreparedCertificate& cert : certs) *vc.add_prepared() = cert;
  Request m;
  m.set_type(Request::TYPE_VIEWCHANGE);
  m.set_sender_id(sender);
  m.set_view(view);
  vc.SerializeToString(m.mutable_data());
  return m;
}

inline Request Checkpoint(int64_t sender, uint64_t seq, const std::string& state) {
  Request m;
  m.set_type(Request::TYPE_CHECKPOINT);
  m.set_sender_id(sender);
  m.set_seq(seq);
  m.set_hash(state);
  return m;
}

// n replicas wired together by an in-memory network. Broadcasts are queued for every other
// replica; Run() delivers until nothing is in flight, feeding each replica's committed
// batches to a toy executor whose state digest chains the batches it ran. Delivery is
// FIFO unless reordering is on; drops, duplicates and reordering come from a seeded PRNG,
// so every run of a test is the same.
//
// Each replica also has a disk holding the durable records of its Actions (written before
// its messages are queued) and its ledger, the batches it executed, which answers FETCHes.
// Restart() rebuilds a replica from its disk and re-runs its ledger.
class Cluster {
 public:
  explicit Cluster(int n, PbftReplicaOptions options = {}, uint64_t seed = 1)
      : n_(n), options_(options), rng_(seed) {
    for (int64_t id = 1; id <= n; ++id) {
      replicas_[id] = std::make_unique<PbftReplica>(id, n, options);
      state_[id] = "genesis";
      executed_[id] = {};
      disks_[id] = Disk();
    }
  }

  // The replica loses everything but its disk: a new PbftReplica restored from it, its
  // executor state rebuilt by running the ledger again.
  void Restart(int64_t id) {
    const Disk& disk = disks_.at(id);
    RestoredState restored;
    restored.view = disk.view.view();
    restored.view_active = disk.view.active();
    restored.new_view = disk.view.new_view();
    restored.stable = disk.stable;
    restored.last_committed = disk.ledger.size();
    for (const auto& [seq, record] : disk.slots) restored.slots.push_back(record);
    replicas_[id] = std::make_unique<PbftReplica>(id, n_, options_);
    replicas_[id]->Restore(restored);
    state_[id] = "genesis";
    executed_[id].clear();
    for (size_t i = 0; i < disk.ledger.size(); ++i) {
      state_[id] = BatchDigest(state_[id] + disk.ledger[i]);
      executed_[id].emplace_back(i + 1, disk.ledger[i]);
      replicas_[id]->OnExecuted(i + 1, state_[id]);
    }
    Run();
  }

  const std::string& state(int64_t id) const { return state_.at(id); }

  PbftReplica& replica(int64_t id) { return *replicas_.at(id); }
  const Executed& executed(int64_t id) const { return executed_.at(id); }

  // Messages to and from a silent replica are dropped.
  void Silence(int64_t id) { silent_.insert(id); }
  void Unsilence(int64_t id) { silent_.erase(id); }
  void set_reorder(bool reorder) { reorder_ = reorder; }
  void set_duplicate_percent(int percent) { duplicate_percent_ = percent; }
  void set_drop_percent(int percent) { drop_percent_ = percent; }

  absl::Status Propose(const std::string& data) {
    return replica(replica(1).primary()).Propose(data);
  }
  absl::Status ProposeAt(int64_t id, const std::string& data) { return replica(id).Propose(data); }

  // Messages of a dropped type are not sent.
  void DropType(Request::Type type) { dropped_types_.insert(type); }
  void AllowType(Request::Type type) { dropped_types_.erase(type); }

  // `ticks` times: every replica that is not silent ticks, then messages are delivered.
  void Tick(int ticks) {
    for (int i = 0; i < ticks; ++i) {
      for (auto& [id, replica] : replicas_) {
        if (!silent_.count(id)) replica->Tick();
      }
      Run();
    }
  }

  // Queues `message` for replica `to` as if sent by message.sender_id().
  void Inject(int64_t to, Request message) { Enqueue(to, std::move(message), false); }

  void Run() {
    Collect();
    while (!in_flight_.empty()) {
      size_t pick = reorder_ ? rng_() % in_flight_.size() : 0;
      Envelope envelope = std::move(in_flight_[pick]);
      in_flight_.erase(in_flight_.begin() + pick);
      if (!envelope.duplicate && Chance(duplicate_percent_)) {
        Envelope copy = envelope;
        copy.duplicate = true;
        in_flight_.push_back(std::move(copy));
      }
      if (!replica(envelope.to).Step(envelope.message).ok()) ++refused_;
      Collect();
    }
  }

  int refused() const { return refused_; }
  // The size of the largest message of `type` sent so far.
  size_t largest(Request::Type type) const {
    auto it = largest_.find(type);
    return it == largest_.end() ? 0 : it->second;
  }

 private:
  struct Envelope {
    int64_t to;
    Request message;
    bool duplicate;
  };

  bool Chance(int percent) { return percent > 0 && static_cast<int>(rng_() % 100) < percent; }

  void Enqueue(int64_t to, Request message, bool duplicate) {
    size_t& largest = largest_[message.type()];
    largest = std::max(largest, message.ByteSizeLong());
    in_flight_.push_back(Envelope{to, std::move(message), duplicate});
  }

  // Drains every replica's actions: sends broadcasts, runs committed batches.
  void Collect() {
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto& [id, replica] : replicas_) {
        if (!replica->HasActions()) continue;
        progress = true;
        Actions actions = replica->TakeActions();
        Persist(id, actions);
        for (auto& [to, message] : actions.send) {
          if (!silent_.count(to) && !silent_.count(id) && !Chance(drop_percent_)) {
            Enqueue(to, std::move(message), false);
          }
        }
        for (const Request& fetch : actions.fetches) {
          std::vector<CommittedBatch> batches;
          const std::vector<std::string>& ledger = disks_[id].ledger;
          for (uint64_t seq = fetch.seq(); seq <= ledger.size() && batches.size() < 64; ++seq) {
            CommittedBatch batch;
            batch.set_seq(seq);
            batch.set_data(ledger[seq - 1]);
            batches.push_back(std::move(batch));
          }
          if (!silent_.count(fetch.sender_id()) && !silent_.count(id)) {
            Enqueue(fetch.sender_id(), replica->FetchReply(fetch, std::move(batches)), false);
          }
        }
        for (const Request& message : actions.broadcast) {
          for (const auto& [to, unused] : replicas_) {
            if (to == id || silent_.count(to) || silent_.count(id) ||
                dropped_types_.count(message.type()) || Chance(drop_percent_)) {
              continue;
            }
            Enqueue(to, message, false);
          }
        }
        for (auto& [seq, data] : actions.execute) {
          state_[id] = BatchDigest(state_[id] + data);
          executed_[id].emplace_back(seq, data);
          replica->OnExecuted(seq, state_[id]);
        }
      }
    }
  }

  struct Disk {
    ViewRecord view;
    StableCheckpoint stable;
    std::map<uint64_t, SlotRecord> slots;
    std::vector<std::string> ledger;  // seq i+1 at index i
    Disk() { view.set_active(true); }
  };

  void Persist(int64_t id, const Actions& actions) {
    Disk& disk = disks_[id];
    if (actions.view_record.has_value()) disk.view = *actions.view_record;
    if (actions.stable.has_value()) disk.stable = *actions.stable;
    for (const SlotRecord& record : actions.slots) disk.slots[record.batch().seq()] = record;
    for (const auto& [seq, data] : actions.execute) {
      if (seq == disk.ledger.size() + 1) disk.ledger.push_back(data);
    }
    // As PbftWal: a stable checkpoint supersedes the slot records it covers.
    disk.slots.erase(disk.slots.begin(), disk.slots.upper_bound(disk.stable.seq()));
  }

  int n_;
  PbftReplicaOptions options_;
  std::map<int64_t, Disk> disks_;
  std::mt19937_64 rng_;
  std::map<int64_t, std::unique_ptr<PbftReplica>> replicas_;
  std::map<int64_t, std::string> state_;
  std::map<int64_t, Executed> executed_;
  std::deque<Envelope> in_flight_;
  std::set<int64_t> silent_;
  std::set<Request::Type> dropped_types_;
  bool reorder_ = false;
  int duplicate_percent_ = 0;
  int drop_percent_ = 0;
  int refused_ = 0;
  std::map<Request::Type, size_t> largest_;
};

inline Executed Batches(int first, int last) {
  Executed out;
  for (int i = first; i <= last; ++i) out.emplace_back(i, Batch(absl::StrCat("set k", i)));
  return out;
}

}  // namespace pbft_test
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_TESTING_PBFT_TEST_CLUSTER_H_
