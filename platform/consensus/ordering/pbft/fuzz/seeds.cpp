#include "platform/common/fuzz/seeds.h"

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "platform/common/fuzz/fuzz_input.h"
#include "platform/consensus/ordering/pbft/fuzz/pbft_fuzz_replica.h"
#include "platform/consensus/ordering/pbft/pbft.pb.h"
#include "platform/consensus/ordering/pbft/pbft_replica.h"

namespace resdb {
namespace fuzz {
namespace {

using pbft::PbftReplica;

// Four honest replicas exchanging messages; the seed is what one of them, the target,
// receives, written as pbft_message_fuzzer's operations, so the fuzzer starts from real
// pre-prepares, votes, checkpoints and view changes.
class SeedCluster {
 public:
  explicit SeedCluster(int64_t target) : target_(target) {
    for (int64_t id = 1; id <= pbft::kFuzzReplicas; ++id) {
      replicas_[id] =
          std::make_unique<PbftReplica>(id, pbft::kFuzzReplicas, pbft::FuzzReplicaOptions());
    }
    out_.AddByte(static_cast<uint8_t>(target - 1));
  }

  // Messages from `id` are lost from now on.
  void Silence(int64_t id) { silent_.insert(id); }
  // Messages to the target are lost while `cut`.
  void CutOffTarget(bool cut) { target_cut_off_ = cut; }

  void Propose(const std::string& batch) {
    replicas_[1]->Propose(batch).IgnoreError();
    Pump();
  }

  // One tick on every replica, with client requests waiting.
  void Tick() {
    for (auto& [id, replica] : replicas_) replica->Tick(/*requests_waiting=*/true);
    out_.AddByte(0).AddByte(0x81);
    Pump();
  }

  std::string seed() const { return out_.data(); }

 private:
  void Pump() {
    std::deque<std::pair<int64_t, Request>> queue;
    for (;;) {
      for (auto& [id, replica] : replicas_) {
        pbft::Actions actions = replica->TakeActions();
        for (const auto& [seq, data] : actions.execute) {
          ledgers_[id][seq] = data;
          replica->OnExecuted(seq, pbft::kFuzzStateDigest);
        }
        if (silent_.count(id) > 0) continue;
        for (const Request& fetch : actions.fetches) {
          std::vector<pbft::CommittedBatch> batches;
          for (auto it = ledgers_[id].lower_bound(fetch.seq()); it != ledgers_[id].end(); ++it) {
            pbft::CommittedBatch batch;
            batch.set_seq(it->first);
            batch.set_data(it->second);
            batches.push_back(std::move(batch));
          }
          queue.emplace_back(fetch.sender_id(), replica->FetchReply(fetch, std::move(batches)));
        }
        for (const Request& message : actions.broadcast) {
          for (auto& [to, unused] : replicas_) {
            if (to != id) queue.emplace_back(to, message);
          }
        }
        for (const auto& [to, message] : actions.send) queue.emplace_back(to, message);
      }
      if (queue.empty()) return;
      while (!queue.empty()) {
        auto [to, message] = std::move(queue.front());
        queue.pop_front();
        if (to == target_ && target_cut_off_) continue;
        if (to == target_) out_.AddByte(2).AddBytes(message.SerializeAsString());
        replicas_[to]->Step(message).IgnoreError();
      }
    }
  }

  const int64_t target_;
  std::map<int64_t, std::unique_ptr<PbftReplica>> replicas_;
  std::set<int64_t> silent_;
  bool target_cut_off_ = false;
  // Per replica, the batches it executed by seq: what it answers FETCHes from.
  std::map<int64_t, std::map<uint64_t, std::string>> ledgers_;
  FuzzInputWriter out_;
};

std::string NormalCase(int64_t target) {
  SeedCluster cluster(target);
  for (int batch = 1; batch <= 3; ++batch) cluster.Propose("batch " + std::to_string(batch));
  return cluster.seed();
}

// The primary of view 0 proposes and falls silent; the others move to view 1.
std::string ViewChange(int64_t target) {
  SeedCluster cluster(target);
  cluster.Silence(1);
  cluster.Propose("batch 1");
  for (int tick = 0; tick < 12; ++tick) cluster.Tick();
  return cluster.seed();
}

// The target misses three batches and a stable checkpoint, then catches up through FETCH.
std::string CatchUp(int64_t target) {
  SeedCluster cluster(target);
  cluster.CutOffTarget(true);
  for (int batch = 1; batch <= 3; ++batch) cluster.Propose("batch " + std::to_string(batch));
  cluster.CutOffTarget(false);
  for (int tick = 0; tick < 6; ++tick) cluster.Tick();
  return cluster.seed();
}

std::string StructuredOps() {
  FuzzInputWriter out;
  out.AddByte(1);                                              // replica 2
  out.AddByte(1).AddByte(0).AddByte(1).AddByte(0).AddByte(1);  // PRE_PREPARE from 1, seq 1
  out.AddByte(0).AddBytes("batch");                            // hash = BatchDigest
  out.AddByte(1).AddByte(1).AddByte(3).AddByte(0).AddByte(1);  // PREPARE from 3
  out.AddByte(0).AddBytes("batch");
  out.AddByte(1).AddByte(3).AddByte(3).AddByte(0).AddByte(2);  // CHECKPOINT from 3, seq 2
  out.AddByte(2).AddBytes("");
  out.AddByte(1).AddByte(6).AddByte(4).AddByte(0).AddByte(1);  // FETCH from 4
  out.AddByte(3).AddBytes("");
  out.AddByte(0).AddByte(0x8f);  // 15 ticks
  return out.data();
}

}  // namespace

std::map<std::string, std::vector<std::string>> Seeds() {
  return {
      {"pbft_message_fuzzer",
       {NormalCase(2), NormalCase(1), ViewChange(2), ViewChange(3), CatchUp(4), StructuredOps()}}};
}

}  // namespace fuzz
}  // namespace resdb
