#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_INVARIANTS_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_INVARIANTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "platform/consensus/ordering/pbft/simulation/pbft_sim_clients.h"

namespace resdb {
namespace pbft {
namespace simulation {

// PBFT's safety properties over a whole run, fed with what correct replicas do (a Byzantine
// replica's own releases prove nothing and are not reported):
//  - agreement: no two replicas release different batches at one seq, ever;
//  - each replica releases contiguous seqs, each once: after a restart it continues from its
//    ledger tip, never below it;
//  - validity: a released batch is the no-op "" of a view change or a batch a client
//    proposed, and each of its requests is one a client issued: that request id, from that
//    client, with that payload;
//  - executed state digests agree per seq, and so do stable checkpoints, which must name
//    the state digest of their seq.
// The first violation is kept; later ones are ignored.
class PbftInvariants {
 public:
  // `clients` must outlive this object.
  explicit PbftInvariants(const PbftSimClients* clients) : clients_(clients) {}

  // `node` (re)starts with `ledger_tip` seqs already released in earlier lives.
  void OnStart(int64_t node, uint64_t ledger_tip) { last_released_[node] = ledger_tip; }
  void OnRelease(int64_t node, uint64_t seq, const std::string& data);
  void OnExecuted(int64_t node, uint64_t seq, const std::string& state_digest);
  void OnStable(int64_t node, uint64_t seq, const std::string& digest);

  void Fail(std::string description);
  bool ok() const { return violation_.empty(); }
  const std::string& violation() const { return violation_; }
  // The highest seq any correct replica released.
  uint64_t max_released() const { return released_.empty() ? 0 : released_.rbegin()->first; }
  size_t empty_batches() const { return empty_batches_; }

 private:
  const PbftSimClients* clients_;
  std::string violation_;
  std::map<int64_t, uint64_t> last_released_;
  // seq -> (batch data, first replica that released it).
  std::map<uint64_t, std::pair<std::string, int64_t>> released_;
  std::map<uint64_t, std::pair<std::string, int64_t>> state_digests_;
  std::map<uint64_t, std::pair<std::string, int64_t>> stable_;
  size_t empty_batches_ = 0;
};

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_INVARIANTS_H_
