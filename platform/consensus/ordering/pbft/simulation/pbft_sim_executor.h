#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_EXECUTOR_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_EXECUTOR_H_

#include <cstdint>
#include <set>
#include <string>

namespace resdb {
namespace pbft {
namespace simulation {

// A replica's state machine reduced to what the checks need: a SHA-256 chain over the
// executed batches (equal on two replicas iff they executed the same batches in the same
// order) and the client request ids seen. Volatile: rebuilt from the ledger at restart.
class PbftSimExecutor {
 public:
  // Runs the batch at `seq`, which must be last_seq() + 1; returns the new state digest.
  std::string Apply(uint64_t seq, const std::string& batch_data);

  uint64_t last_seq() const { return last_seq_; }
  const std::string& digest() const { return digest_; }
  const std::set<uint64_t>& request_ids() const { return request_ids_; }

 private:
  uint64_t last_seq_ = 0;
  std::string digest_;
  std::set<uint64_t> request_ids_;
};

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_EXECUTOR_H_
