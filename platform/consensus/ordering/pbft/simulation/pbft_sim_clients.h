#ifndef PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_CLIENTS_H_
#define PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_CLIENTS_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace resdb {
namespace pbft {
namespace simulation {

// The clients of a run: each proposal is a distinct batch (a serialized BatchUserRequest
// whose requests carry run-unique request ids). A proposal is done once f+1 correct
// replicas executed every request of it (what a PBFT client waits for); until then it is
// handed again to the current primary every `retry_ticks`. A retried batch may execute at
// two sequence numbers, so validity and liveness are judged on request ids.
class PbftSimClients {
 public:
  struct Proposal {
    std::string data;
    std::vector<uint64_t> request_ids;
    int64_t created_tick = 0;
    // -1 until a primary accepted it.
    int64_t handed_tick = -1;
    int handed = 0;
    bool done = false;
  };

  explicit PbftSimClients(int64_t retry_ticks) : retry_ticks_(retry_ticks) {}

  // A new proposal of `requests` requests (>= 1); returns its index.
  size_t Create(int64_t tick, int requests);
  // Indices of the proposals that are not done and are due to be handed to a primary.
  std::vector<size_t> Due(int64_t tick) const;
  void MarkHanded(size_t index, int64_t tick);
  void MarkDone(size_t index);
  // Every proposal before this index is done.
  size_t first_pending() const { return first_pending_; }

  const std::vector<Proposal>& proposals() const { return proposals_; }
  size_t pending() const;
  bool IsProposedBatch(const std::string& data) const { return batches_.count(data) > 0; }
  bool IsIssuedRequest(uint64_t request_id) const {
    return request_id >= 1 && request_id < next_request_id_;
  }
  // Requests issued so far (their ids are 1..issued_requests()).
  uint64_t issued_requests() const { return next_request_id_ - 1; }

 private:
  int64_t retry_ticks_;
  std::vector<Proposal> proposals_;
  std::set<std::string> batches_;
  uint64_t next_request_id_ = 1;
  size_t first_pending_ = 0;
};

}  // namespace simulation
}  // namespace pbft
}  // namespace resdb

#endif  // PLATFORM_CONSENSUS_ORDERING_PBFT_SIMULATION_PBFT_SIM_CLIENTS_H_
